-- Store a space's catalog snapshot, unless Redis already holds one listed later.
--
-- KEYS[1]  the space's snapshot: a hash of `at` (when the listing began, epoch seconds),
--          `truncated` (1 when cut at the bound) and `data` (the compressed flows)
-- ARGV[1]  at        ARGV[2]  truncated        ARGV[3]  data
-- ARGV[4]  how long Redis keeps it, ms
--
-- Returns 1 when stored, 0 when a snapshot listed at the same time or later is kept.
local stored = tonumber(redis.call('HGET', KEYS[1], 'at') or '')
if stored and stored >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'truncated', ARGV[2], 'data', ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
