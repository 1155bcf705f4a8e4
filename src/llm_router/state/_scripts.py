"""The Lua scripts behind `RedisState`: every shared decision, atomic on the server.

One script, `STATE`, does a whole round trip's work: it applies the settles, latency
samples and queue departures waiting since the last round trip, then decides every
admission asked for (none for a flush), in order. So a call's settle rides with the next
admission of its process instead of costing a round trip of its own, and calls asking at
the same moment share one round trip. Arguments are read in order through `arg()` and `key()`; `RedisState` writes them in
the same order.

Key layout (each key starts with the hash-tagged ``{prefix}:``, so all land in one slot):
a scope S has S:req (zset of request ids by time), S:tok (zset of token entries by time),
S:tokw (hash id -> tokens), S:toksum (their sum), S:conc (zset of leases by expiry) and
S:quota (what the provider announced); a latency window L has L:t (sample -> recorded at) and
L:v (sample -> seconds); a wait queue Q has Q (zset of tickets by number), Q:alive (tickets by
expiry) and Q:seq (the ticket counter).
"""

from __future__ import annotations

__all__ = ["STATE"]

STATE = """
local a, k = 1, 1
local function arg() local v = ARGV[a]; a = a + 1; return v end
local function num() return tonumber(arg()) end
local function key() local v = KEYS[k]; k = k + 1; return v end
local now = num()
local function remove_all(cmd, target, members)  -- in chunks: unpack() has a stack limit
  for i = 1, #members, 500 do
    redis.call(cmd, target, unpack(members, i, math.min(i + 499, #members)))
  end
end

-- latency windows -------------------------------------------------------------------------
local function lat_expire(l, max_age)
  local old = redis.call('ZRANGEBYSCORE', l .. ':t', '-inf', '(' .. (now - max_age))
  if #old > 0 then
    remove_all('ZREM', l .. ':v', old)
    remove_all('ZREM', l .. ':t', old)
  end
end

local function lat_record(l, member, at, seconds, window, max_age)
  lat_expire(l, max_age)
  redis.call('ZADD', l .. ':t', at, member)
  redis.call('ZADD', l .. ':v', seconds, member)
  local extra = redis.call('ZCARD', l .. ':t') - window
  if extra > 0 then
    local oldest = redis.call('ZRANGE', l .. ':t', 0, extra - 1)
    remove_all('ZREM', l .. ':v', oldest)
    remove_all('ZREM', l .. ':t', oldest)
  end
  local ttl = math.ceil(max_age * 1000) + 1000
  redis.call('PEXPIRE', l .. ':t', ttl)
  redis.call('PEXPIRE', l .. ':v', ttl)
end

-- settles ---------------------------------------------------------------------------------
for _ = 1, num() do
  local ident, tokens, release = arg(), num(), arg() == '1'
  local nscopes, nquotas, nopened, nbudgets = num(), num(), num(), num()
  for _ = 1, nscopes do
    local s = key()
    if tokens >= 0 then
      local old = tonumber(redis.call('HGET', s .. ':tokw', ident))
      if old then
        redis.call('HSET', s .. ':tokw', ident, tokens)
        redis.call('INCRBY', s .. ':toksum', tokens - old)
      end
    end
    if release then redis.call('ZREM', s .. ':conc', ident) end
  end
  for _ = 1, nquotas do
    local q = key() .. ':quota'
    local rr, rrst, tr, trst = arg(), arg(), arg(), arg()
    if rr ~= '' then redis.call('HSET', q, 'rr', rr, 'rrst', rrst) end
    if tr ~= '' then redis.call('HSET', q, 'tr', tr, 'trst', trst) end
    local until_ = math.max(tonumber(rrst) or 0, tonumber(trst) or 0)
    if until_ > now then redis.call('PEXPIRE', q, math.ceil((until_ - now) * 1000) + 1000) end
  end
  for _ = 1, nopened do
    local c, ms = key(), num()
    if redis.call('PTTL', c) < ms then redis.call('SET', c, '1', 'PX', ms) end
  end
  for _ = 1, nbudgets do
    local b = key()
    local delta, start, maximum = num(), num(), num()
    local level = tonumber(redis.call('GET', b)) or start
    level = math.min(maximum, math.max(0, level + delta))
    redis.call('SET', b, string.format('%.17g', level), 'EX', 3600)
  end
end
for _ = 1, num() do
  local l = key()
  local member, at, seconds, window, max_age = arg(), num(), num(), num(), num()
  lat_record(l, member, at, seconds, window, max_age)
end
-- queue tickets given up (a waiter that timed out or was cancelled)
for _ = 1, num() do
  local q, ticket = key(), arg()
  redis.call('ZREM', q, ticket)
  redis.call('ZREM', q .. ':alive', ticket)
end
-- admissions (none for a flush) ------------------------------------------------------------
local ident, tokens, lease

local function prune(s)
  local horizon = now - s.period
  redis.call('ZREMRANGEBYSCORE', s.key .. ':req', '-inf', horizon)
  local old = redis.call('ZRANGEBYSCORE', s.key .. ':tok', '-inf', horizon)
  if #old > 0 then
    local sum = 0
    for _, id in ipairs(old) do
      sum = sum + (tonumber(redis.call('HGET', s.key .. ':tokw', id)) or 0)
    end
    remove_all('HDEL', s.key .. ':tokw', old)
    redis.call('ZREMRANGEBYSCORE', s.key .. ':tok', '-inf', horizon)
    redis.call('INCRBY', s.key .. ':toksum', -sum)
  end
  redis.call('ZREMRANGEBYSCORE', s.key .. ':conc', '-inf', now)
end

local function wait_for(s)
  prune(s)
  local wait = 0
  if s.rpm > 0 then
    local count = redis.call('ZCARD', s.key .. ':req')
    if count >= s.rpm then
      local entry = redis.call('ZRANGE', s.key .. ':req', count - s.rpm, count - s.rpm, 'WITHSCORES')
      wait = math.max(wait, tonumber(entry[2]) + s.period - now)
    end
  end
  if s.tpm > 0 then
    local total = tonumber(redis.call('GET', s.key .. ':toksum')) or 0
    local excess = total + math.min(tokens, s.tpm) - s.tpm
    if excess > 0 then
      local entries = redis.call('ZRANGE', s.key .. ':tok', 0, -1, 'WITHSCORES')
      local found = s.period
      for i = 1, #entries, 2 do
        excess = excess - (tonumber(redis.call('HGET', s.key .. ':tokw', entries[i])) or 0)
        if excess <= 0 then found = tonumber(entries[i + 1]) + s.period - now; break end
      end
      wait = math.max(wait, found)
    end
  end
  local quota = redis.call('HMGET', s.key .. ':quota', 'rr', 'rrst', 'tr', 'trst')
  if quota[1] and now < tonumber(quota[2]) and tonumber(quota[1]) < 1 then
    wait = math.max(wait, tonumber(quota[2]) - now)
  end
  if quota[3] and now < tonumber(quota[4]) and tonumber(quota[3]) < math.max(tokens, 1) then
    wait = math.max(wait, tonumber(quota[4]) - now)
  end
  if s.conc > 0 then
    local held = redis.call('ZCARD', s.key .. ':conc')
    if held >= s.conc then wait = -1 end
  end
  return wait
end

local function free_fraction(s)
  local free = 1
  if s.rpm > 0 then free = math.min(free, 1 - redis.call('ZCARD', s.key .. ':req') / s.rpm) end
  if s.tpm > 0 then
    free = math.min(free, 1 - (tonumber(redis.call('GET', s.key .. ':toksum')) or 0) / s.tpm)
  end
  if s.conc > 0 then free = math.min(free, 1 - redis.call('ZCARD', s.key .. ':conc') / s.conc) end
  return math.max(free, 0)
end

local function admit(s)
  local ttl = math.ceil(s.period * 1000) + 1000
  if s.rpm > 0 then
    redis.call('ZADD', s.key .. ':req', now, ident)
    redis.call('PEXPIRE', s.key .. ':req', ttl)
  end
  if s.tpm > 0 then
    local w = math.min(tokens, s.tpm)
    redis.call('ZADD', s.key .. ':tok', now, ident)
    redis.call('HSET', s.key .. ':tokw', ident, w)
    redis.call('INCRBY', s.key .. ':toksum', w)
    for _, suffix in ipairs({':tok', ':tokw', ':toksum'}) do
      redis.call('PEXPIRE', s.key .. suffix, ttl)
    end
  end
  if s.conc > 0 then
    redis.call('ZADD', s.key .. ':conc', now + lease, ident)
    redis.call('PEXPIRE', s.key .. ':conc', math.ceil(lease * 1000) + 1000)
  end
  local quota = redis.call('HMGET', s.key .. ':quota', 'rr', 'rrst', 'tr', 'trst')
  if quota[1] and now < tonumber(quota[2]) then redis.call('HINCRBY', s.key .. ':quota', 'rr', -1) end
  if quota[3] and now < tonumber(quota[4]) then
    redis.call('HINCRBY', s.key .. ':quota', 'tr', -tokens)
  end
end

local function acquire_one()
  ident, tokens, lease = arg(), num(), num()
  local groups = {}
  for g = 1, num() do
    local scopes = {}
    for i = 1, num() do
      scopes[i] = {key = key(), rpm = num(), tpm = num(), conc = num(), period = num()}
    end
    groups[g] = scopes
  end

  -- The wait queue (when asked): a call is admitted only when no ticket is ahead of it.
  -- `ticket` is '' for a call that holds none; `join` asks for one when it is not admitted.
  local queue, ticket, join, max_queue, ticket_ttl, ahead = nil, '', false, 0, 0, 0
  if arg() == '1' then
    queue, ticket, join, max_queue, ticket_ttl = key(), arg(), arg() == '1', num(), num()
    local dead = redis.call('ZRANGEBYSCORE', queue .. ':alive', '-inf', now)
    if #dead > 0 then
      remove_all('ZREM', queue, dead)
      remove_all('ZREM', queue .. ':alive', dead)
    end
    ahead = redis.call('ZCARD', queue)
    if ticket ~= '' then
      local rank = redis.call('ZRANK', queue, ticket)
      if rank then
        ahead = rank
        redis.call('ZADD', queue .. ':alive', now + ticket_ttl, ticket)
      else
        ticket = ''  -- expired while its holder was away: it joins again at the back
        join = true
      end
    end
  end

  local index = 0
  local waits, room = {}, {}
  for g = 1, #groups do
    local wait, free = 0, 1
    for _, s in ipairs(groups[g]) do
      local w = wait_for(s)
      if w == -1 or wait == -1 then wait = -1 else wait = math.max(wait, w) end
    end
    if wait == 0 and index == 0 and ahead == 0 then
      index = g
      for _, s in ipairs(groups[g]) do admit(s) end
    end
    for _, s in ipairs(groups[g]) do free = math.min(free, free_fraction(s)) end
    waits[g] = tostring(wait)
    room[g] = tostring(free)
  end
  local queued = ''
  if queue then
    if index > 0 then
      if ticket ~= '' then
        redis.call('ZREM', queue, ticket)
        redis.call('ZREM', queue .. ':alive', ticket)
      end
    elseif ticket ~= '' then
      queued = ticket
    elseif join then
      if redis.call('ZCARD', queue) < max_queue then
        queued = ident
        redis.call('ZADD', queue, redis.call('INCR', queue .. ':seq'), ident)
        redis.call('ZADD', queue .. ':alive', now + ticket_ttl, ident)
        ahead = redis.call('ZRANK', queue, ident)
      else
        queued = '-'  -- the queue is full
      end
    end
    local ttl = math.ceil(ticket_ttl * 1000) + 1000
    for _, suffix in ipairs({'', ':alive', ':seq'}) do redis.call('PEXPIRE', queue .. suffix, ttl) end
  end

  local circuits, levels, latencies = {}, {}, {}
  for i = 1, num() do circuits[i] = redis.call('PTTL', key()) end
  for i = 1, num() do levels[i] = redis.call('GET', key()) or '' end
  local nlat, max_age, percentiles = num(), num(), {}
  for i = 1, num() do percentiles[i] = num() end
  for _ = 1, nlat do
    local l = key()
    lat_expire(l, max_age)
    local n = redis.call('ZCARD', l .. ':v')
    latencies[#latencies + 1] = tostring(n)
    for _, p in ipairs(percentiles) do
      if n == 0 then
        latencies[#latencies + 1] = ''
      else
        local rank = math.max(math.ceil(p / 100 * n), 1)
        latencies[#latencies + 1] = redis.call('ZRANGE', l .. ':v', rank - 1, rank - 1, 'WITHSCORES')[2]
      end
    end
  end
  return {index, waits, room, circuits, levels, latencies, queued, tostring(ahead)}
end

local replies = {}
for i = 1, num() do replies[i] = acquire_one() end
return replies
"""
