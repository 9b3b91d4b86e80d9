-- DeleteUser: remove a user and its name from the index.
-- KEYS[1] name index; ARGV[1] username, ARGV[2] user key prefix
-- Returns 1, or 0 when there is no such name.
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', ARGV[2] .. id)
return 1
