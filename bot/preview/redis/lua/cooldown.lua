-- Hold every replica's calls for one account back for a while, on Redis's own clock, and
-- make the first slot booked after it a probe.
--
-- KEYS[1]  the account's cooldown: no slot before this Redis-clock microsecond
-- KEYS[2]  the account's probe (see admit.lua)
-- ARGV[1]  how long, in microseconds
-- ARGV[2]  longest cooldown, µs: neither this pause nor one already stored goes further
--
-- Returns the cooldown's end, Redis-clock microseconds; a later end already set is kept.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local cap = tonumber(ARGV[2])
local ends = now + math.min(tonumber(ARGV[1]), cap)
local current = math.min(tonumber(redis.call('GET', KEYS[1]) or '0'), now + cap)
if current > ends then
  ends = current
end
local ms = math.floor((ends - now) / 1000) + 1
redis.call('SET', KEYS[1], ends, 'PX', ms)
-- Kept beyond the pause so that the first caller after it, however late, is the probe.
redis.call('SET', KEYS[2], 'due', 'PX', ms + math.floor(cap / 1000))
return ends
