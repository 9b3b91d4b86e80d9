-- FamilyByToken: the family a token (spent or not) belongs to.
-- KEYS[1] token, KEYS[2] the family the token names; ARGV[1] family id (of KEYS[2])
-- Returns the family's fields, or an empty list when the token is not stored under that family.
if redis.call('HGET', KEYS[1], 'f') ~= ARGV[1] then return {} end
return redis.call('HGETALL', KEYS[2])
