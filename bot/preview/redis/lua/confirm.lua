-- Before a caller uses a slot it slept for: was a cooldown or a probe set since it booked?
--
-- KEYS[1]  the account's cooldown      KEYS[2]  the account's probe (see admit.lua)
-- ARGV[1]  the slot, Redis-clock µs    ARGV[2]  1 if this slot is the probe, else 0
-- ARGV[3]  longest cooldown, µs        ARGV[4]  how long others wait for the probe, µs
--
-- Returns 0 when the slot is void (it falls in a cooldown, or before a probe's answer: the
-- caller must book again), 1 when it may be used, 2 when it may be used as the probe.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local slot = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local cooldown = tonumber(redis.call('GET', KEYS[1]) or '0')
if cooldown > now + cap then
  cooldown = now + cap
  redis.call('SET', KEYS[1], cooldown, 'PX', math.floor(cap / 1000) + 1)
end
if cooldown > slot then
  return 0
end
local probe = redis.call('GET', KEYS[2])
if probe == 'due' then
  local hold = tonumber(ARGV[4])
  local ends = slot + hold
  redis.call('SET', KEYS[2], ends, 'PX', math.max(1, math.floor((ends - now) / 1000) + 1))
  return 2
end
if probe and ARGV[2] == '0' and tonumber(probe) > slot then
  return 0
end
return 1
