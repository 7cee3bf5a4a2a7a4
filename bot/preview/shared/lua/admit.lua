-- Book the next call slot of one Alibaba account on Redis's own clock.
--
-- KEYS[1]  the account's booked slots: a list of Redis-clock microseconds, oldest first
-- KEYS[2]  the account's cooldown: no slot before this Redis-clock microsecond
-- KEYS[3]  the account's fence: while it exists the budget is one replica's share, because
--          replicas that lost Redis may still be spending their share locally
-- KEYS[4]  the account's marker: its absence means Redis lost the booked slots (a restart),
--          so a fence goes up until every slot booked before could have been used
-- ARGV[1]  rate: calls per window        ARGV[2]  share: calls per window during a fence
-- ARGV[3]  spacing: window + margin, µs  ARGV[4]  max wait, µs
-- ARGV[5]  fence length, ms
-- ARGV[6]  not before: this replica's own earliest slot, µs from now (while its local
--          fallback still has grants pending or recent, after an outage)
--
-- Returns {1, wait µs} for a booked slot, or {0, wait µs} when the slot would be further
-- away than the max wait; a refusal books nothing. Slots are booked in arrival order, so
-- callers are served first come, first served, each sleeping once until its slot.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local rate = tonumber(ARGV[1])
local spacing = tonumber(ARGV[3])

if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('SET', KEYS[4], now)
  redis.call('SET', KEYS[3], 1, 'PX', tonumber(ARGV[5]))
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  rate = tonumber(ARGV[2])
end
if rate < 1 then
  return {0, tonumber(ARGV[4]) + 1}
end

local turn = now + tonumber(ARGV[6])
local cooldown = tonumber(redis.call('GET', KEYS[2]) or '0')
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

local wait = turn - now
if wait > tonumber(ARGV[4]) then
  return {0, wait}
end
redis.call('RPUSH', KEYS[1], turn)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[1], math.floor((wait + spacing) / 1000) + 1000)
return {1, wait}
