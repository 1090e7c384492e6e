"""The Lua scripts of the Redis store.

Each script runs atomically inside Redis, so a read and the write that
depends on it can never interleave with another process's.  The arithmetic
mirrors ``state.gcra`` exactly (integer microseconds).  Expiry times that
matter are stored in the values and compared with the caller's ``now``, so
both stores honour the same clock; Redis TTLs only reclaim memory.

All keys a script touches are passed in KEYS, so a Redis Cluster routes it;
the store only ever groups keys that hash to one slot in one call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua source and its SHA-1, the name EVALSHA calls it by."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.source.encode(), usedforsecurity=False)
        object.__setattr__(self, "sha", digest.hexdigest())


# KEYS: nb ban keys, nc bucket keys, nt tally keys, in that order.
# ARGV: now, nb, nc, nt, member cap; 3 per bucket (interval, capacity,
# cost); 4 per tally (kind c|d, window, amount, member); a negative
# amount takes back from a counter or removes a set's member.
# Returns {ban reason or false, {allowed, remaining, retry, reset}...,
# {count...}}.  Buckets are written only when none denies and no ban hit.
ADMIT = Script(
    """
local now = tonumber(ARGV[1])
local nb, nc, nt = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cap = tonumber(ARGV[5])

local counts = {}
local a = 5 + 3 * nc
for i = 1, nt do
  local key = KEYS[nb + nc + i]
  local kind, window = ARGV[a + 1], tonumber(ARGV[a + 2])
  local amount, member = tonumber(ARGV[a + 3]), ARGV[a + 4]
  a = a + 4
  local ttl = math.max(1, math.ceil(window / 1000))
  if kind == 'd' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if amount > 0 and member ~= '' then
      if redis.call('ZSCORE', key, member) or redis.call('ZCARD', key) < cap then
        redis.call('ZADD', key, now + window, member)
        redis.call('PEXPIRE', key, ttl)
      end
    elseif amount < 0 and member ~= '' then
      redis.call('ZREM', key, member)
    end
    counts[i] = redis.call('ZCARD', key)
  else
    local width = math.max(1, math.floor(window / 10))
    if amount ~= 0 then
      local slot = string.format('%.0f', math.floor(now / width))
      redis.call('HINCRBY', key, slot, amount)
      redis.call('PEXPIRE', key, ttl)
    end
    local fields = redis.call('HGETALL', key)
    local sum = 0
    for j = 1, #fields, 2 do
      if tonumber(fields[j]) * width > now - window then
        sum = sum + tonumber(fields[j + 1])
      else
        redis.call('HDEL', key, fields[j])
      end
    end
    counts[i] = sum
  end
end

local banned = false
for i = 1, nb do
  local value = redis.call('GET', KEYS[i])
  if value then
    local expiry, reason = string.match(value, '^(%d+):(.*)$')
    if expiry and tonumber(expiry) > now then
      banned = reason
      break
    end
  end
end

local results, tats, all = {}, {}, not banned
local c = 5
for i = 1, nc do
  local interval, capacity = tonumber(ARGV[c + 1]), tonumber(ARGV[c + 2])
  local cost = tonumber(ARGV[c + 3])
  c = c + 3
  local tat = tonumber(redis.call('GET', KEYS[nb + i]) or '0')
  if tat < now then tat = now end
  local ahead = tat + interval * cost - now
  if ahead > capacity then
    all = false
    local left = math.max(0, math.floor((capacity - (tat - now)) / interval))
    results[i] = {0, left, ahead - capacity, tat - now}
  else
    tats[i] = now + ahead
    results[i] = {1, math.floor((capacity - ahead) / interval), 0, ahead}
  end
end
if all then
  for i = 1, nc do
    local ttl = math.max(1, math.ceil((tats[i] - now) / 1000))
    redis.call('SET', KEYS[nb + i], string.format('%.0f', tats[i]), 'PX', ttl)
  end
end
return {banned, results, counts}
"""
)

# KEYS: bucket keys charged by a call whose admission failed elsewhere
# (Cluster only).  ARGV: now, then the us to give back per key.
REFUND = Script(
    """
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat > 0 then
    local back = tat - tonumber(ARGV[i + 1])
    if back <= now then
      redis.call('DEL', KEYS[i])
    else
      redis.call('SET', KEYS[i], string.format('%.0f', back), 'KEEPTTL')
    end
  end
end
return #KEYS
"""
)

# KEYS[1]: the marker.  ARGV: now, ttl (us).  1 for the first caller.
FIRST_SEEN = Script(
    """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local expiry = tonumber(redis.call('GET', KEYS[1]) or '0')
if expiry > now then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', now + ttl),
           'PX', math.max(1, math.ceil(ttl / 1000)))
return 1
"""
)

ALL = (ADMIT, REFUND, FIRST_SEEN)
