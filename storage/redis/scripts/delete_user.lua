-- DeleteUser: remove a user and its name from the index, if the name still names that user.
-- KEYS[1] name index, KEYS[2] the user the caller read from it; ARGV[1] username, ARGV[2] user id
-- Returns 1, or 0 (nothing done) when the index no longer maps the name to that id: the caller
-- reads the index again.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
