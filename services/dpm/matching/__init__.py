"""Recommendations: ranking, the Redis cache, serving and re-matching.

- ``model`` and ``engine``: hard filters, weighted score and deterministic
  order on plain dataclasses; no I/O, no generated code.
- ``convert``: the only mapping between the wire messages and the model.
- ``compute``: one client's set from the upstream services, stored by ``refresh``.
- ``cache``: recommendation sets in Redis with a versioned compare-and-set,
  change notices on pub/sub and single-flight locks.
- ``servicer``: GetRecommendations / WatchRecommendations.
- ``rematch``: the tasks the workers run when a change event arrives.
"""
