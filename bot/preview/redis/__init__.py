"""What several replicas share through Redis: the account's call budget and the cache.

Needs the `redis` extra. Every Redis call goes through one RedisCircuitBreaker, which sends the
replica to its local fallbacks while Redis is unreachable.
"""
