-- Hold every replica's calls for one account back for a while, on Redis's own clock.
--
-- KEYS[1]  the account's cooldown: no slot before this Redis-clock microsecond
-- ARGV[1]  how long, in microseconds
--
-- Returns the cooldown's end, Redis-clock microseconds; a later end already set is kept.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local ends = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= ends then
  return current
end
redis.call('SET', KEYS[1], ends, 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1)
return ends
