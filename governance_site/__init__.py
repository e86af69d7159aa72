"""Governance control plane: project package (settings, urls, Celery app, shared apps)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
