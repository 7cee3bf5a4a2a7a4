-- Renew or release a space's refresh lock, only if the caller still holds it.
--
-- KEYS[1]  the lock, whose value is its holder's token
-- ARGV[1]  the caller's token
-- ARGV[2]  the new lease in ms, or 0 to release
--
-- Returns 1 when renewed or released, 0 when the lock is another's or gone.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) > 0 then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return redis.call('DEL', KEYS[1])
