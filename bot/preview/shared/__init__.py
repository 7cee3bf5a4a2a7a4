"""What several replicas share through Redis: the account's call budget and the cache.

Needs the `redis` extra. Every Redis call goes through one RedisLink, whose circuit breaker
sends the replica to its local fallbacks while Redis is unreachable.
"""
