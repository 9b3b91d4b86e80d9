-- FamilyByToken: the family a token (spent or not) belongs to.
-- KEYS[1] token; ARGV[1] family key prefix, ARGV[2] family key suffix
-- Returns the family's fields, or an empty list.
local fid = redis.call('HGET', KEYS[1], 'f')
if not fid then return {} end
return redis.call('HGETALL', ARGV[1] .. fid .. ARGV[2])
