"""Trigger emulations: each turns an outside source (HTTP, Kafka, cron) into events for a worker pool."""

from __future__ import annotations
