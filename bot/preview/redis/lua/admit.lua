-- Book the next call slot of one Alibaba account on Redis's own clock.
--
-- KEYS[1]  the account's booked slots: a list of Redis-clock microseconds, oldest first
-- KEYS[2]  the account's cooldown: no slot before this Redis-clock microsecond
-- KEYS[3]  the account's fence: while it exists the budget is one replica's share, because
--          replicas that lost Redis may still be spending their share locally
-- KEYS[4]  the account's marker: its absence means Redis lost the booked slots (a restart),
--          so a fence goes up until every slot booked before could have been used
-- KEYS[5]  the account's probe: `due` after a throttling answer (the next slot booked is the
--          probe), then the Redis-clock microsecond until which other slots wait for the
--          probe's answer
-- ARGV[1]  rate: calls per window        ARGV[2]  share: calls per window during a fence
-- ARGV[3]  spacing: window + margin, µs  ARGV[4]  max wait, µs
-- ARGV[5]  fence length, ms
-- ARGV[6]  not before: this replica's own earliest slot, µs from now (while its local
--          fallback still has grants pending or recent, after an outage)
-- ARGV[7]  longest cooldown, µs: a stored cooldown further off (an older version's, or a
--          replica's with a longer cap) is cut to it
-- ARGV[8]  how long after the probe's slot the others wait for its answer, µs
--
-- Returns {1, wait µs, slot, probe} for a booked slot (probe is 1 when the caller is the
-- probe), or {0, wait µs, 0, 0} when the slot would be further away than the max wait; a
-- refusal books nothing. Slots are booked in arrival order, so callers are served first
-- come, first served, each sleeping until its slot.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local rate = tonumber(ARGV[1])
local spacing = tonumber(ARGV[3])
local cap = tonumber(ARGV[7])

if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('SET', KEYS[4], now)
  redis.call('SET', KEYS[3], 1, 'PX', tonumber(ARGV[5]))
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  rate = tonumber(ARGV[2])
end
if rate < 1 then
  return {0, tonumber(ARGV[4]) + 1, 0, 0}
end

local turn = now + tonumber(ARGV[6])
local cooldown = tonumber(redis.call('GET', KEYS[2]) or '0')
if cooldown > now + cap then
  -- Stored for too long: cut it, and write the cut back so that it ends rather than slides.
  cooldown = now + cap
  redis.call('SET', KEYS[2], cooldown, 'PX', math.floor(cap / 1000) + 1)
end
if cooldown > turn then
  turn = cooldown
end
local booked = redis.call('LLEN', KEYS[1])
if booked >= rate then
  local prior = tonumber(redis.call('LINDEX', KEYS[1], booked - rate))
  if prior + spacing > turn then
    turn = prior + spacing
  end
end
local probe = redis.call('GET', KEYS[5])
local is_probe = 0
if probe == 'due' then
  is_probe = 1
elseif probe and tonumber(probe) > turn then
  turn = tonumber(probe)
end

local wait = turn - now
if wait > tonumber(ARGV[4]) then
  return {0, wait, 0, 0}
end
redis.call('RPUSH', KEYS[1], turn)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[1], math.floor((wait + spacing) / 1000) + 1000)
if is_probe == 1 then
  local hold = tonumber(ARGV[8])
  redis.call('SET', KEYS[5], turn + hold, 'PX', math.floor((wait + hold) / 1000) + 1)
end
return {1, wait, turn, is_probe}
