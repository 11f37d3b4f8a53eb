"""Celery workers that keep recommendations fresh when their inputs change."""
