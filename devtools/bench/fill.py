"""A long history, made fast: jobs, tasks and cards in bulk, for the gallery benchmark
and the tests that check its query plans over a large table."""

from __future__ import annotations

from datetime import datetime, timedelta

from generation.models import Job, Task, TaskStatus
from history.models import HistoryItem

BATCH = 5_000


def add_videos(user, start: int, stop: int, *, now: datetime, running: int = 6, model_key: str = "kling-2.1-t2v") -> None:
    """Videos number `start`..`stop`-1 of `user`, video n made n minutes before `now`.
    Most are single-video jobs; every tenth job makes four. The newest `running` videos
    are still at the provider, every 17th one failed, the rest completed."""
    n = start
    while n < stop:
        jobs, tasks, items = [], [], []
        while n < stop and len(tasks) < BATCH:
            created = now - timedelta(minutes=n)
            job = Job(user=user, model_key=model_key, prompt=f"history video {n}", params={}, created_at=created)
            jobs.append(job)
            for variant in range(4 if n % 10 == 9 else 1):
                if n >= stop:
                    break
                if n < running:
                    status = TaskStatus.QUEUED
                else:
                    status = TaskStatus.FAILED if n % 17 == 0 else TaskStatus.COMPLETED
                task = Task(job=job, endpoint="fal-ai/history", status=status, variant_index=variant,
                            created_at=created, request_id=f"history-{n}")
                tasks.append(task)
                video = f"videos/history/{n}.mp4" if status == TaskStatus.COMPLETED else ""
                items.append(HistoryItem(user=user, task=task, created_at=created, video=video))
                n += 1
        Job.objects.bulk_create(jobs)
        Task.objects.bulk_create(tasks)
        HistoryItem.objects.bulk_create(items)
