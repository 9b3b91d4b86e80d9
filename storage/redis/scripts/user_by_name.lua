-- UserByName: look a name up in the index and return {id, user fields...}, or an empty list.
-- KEYS[1] name index; ARGV[1] username, ARGV[2] user key prefix
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return {} end
local out = redis.call('HGETALL', ARGV[2] .. id)
if #out == 0 then return {} end
table.insert(out, 1, id)
return out
