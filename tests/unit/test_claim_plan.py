"""The claim planner's fairness order (``queue.claims.plan``) against the rule it
replaces: claim one job at a time, from the course with the fewest running jobs,
then the oldest job."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from assay.queue.claims import Candidate, CourseKey, plan

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def one_at_a_time(
    found: list[Candidate], running: Counter[CourseKey], room: int
) -> list[Candidate]:
    busy, left, picked = Counter(running), list(found), []
    while left and len(picked) < room:
        best = min(left, key=lambda c: (busy[c.course_id], c.created_at, c.id))
        picked.append(best)
        left.remove(best)
        busy[best.course_id] += 1
    return picked


def job(job_id: int, course: CourseKey, seconds: float) -> Candidate:
    return Candidate(job_id, course, START + timedelta(seconds=seconds))


def test_the_least_busy_course_first_then_the_oldest_job() -> None:
    found = [job(1, 1, 0), job(2, 1, 1), job(3, 2, 2), job(4, None, 3), job(5, 2, 4)]
    running = Counter({1: 2, 2: 1})
    assert [c.id for c in plan(found, running, 5)] == [4, 3, 1, 5, 2]
    assert running == Counter({1: 2, 2: 1})  # the caller's counts are not changed


def test_room_limits_the_picks_and_an_empty_queue_gives_none() -> None:
    found = [job(n, n % 3, n) for n in range(10)]
    assert len(plan(found, Counter(), 4)) == 4
    assert plan([], Counter({1: 3}), 8) == []


def test_random_queues_match_the_one_at_a_time_order() -> None:
    rng = random.Random(7)
    for _ in range(300):
        courses: list[CourseKey] = [None, *range(1, rng.randint(1, 6))]
        found = [
            job(n, rng.choice(courses), rng.randint(0, 20))  # ties in time are broken by id
            for n in range(rng.randint(0, 30))
        ]
        running = Counter({c: rng.randint(0, 4) for c in courses if rng.random() < 0.6})
        room = rng.randint(1, 10)
        assert plan(found, running, room) == one_at_a_time(found, running, room)
