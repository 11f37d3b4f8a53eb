"""Recommendations: the ranking engine (pure), the Redis cache, and the gRPC servicer.

- ``engine``: hard filters, weighted score and deterministic order; no I/O.
- ``cache``: recommendation sets in Redis with a versioned compare-and-set,
  change notices on pub/sub and single-flight locks.
"""
