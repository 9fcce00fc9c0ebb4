"""When seeded things happen: 18 months of a clinic's history and the two weeks ahead.

Reports by month, week, weekday and hour are only worth looking at when the demo's
bookings and visits are spread like a real clinic's: busier on weekdays than on
Sundays, in opening hours with the morning and afternoon peaks, a little busier in
recent months than a year and a half ago (a clinic that grows), and the next two
weeks already partly booked. One seeded random source draws every moment, so the
same seed gives the same history.
"""

from __future__ import annotations

import datetime as dt
import random

HISTORY_DAYS = 548  # about 18 months
AHEAD_DAYS = 14
AHEAD_SHARE = 0.08  # of bookings and due dates: in the next two weeks (the rest lie in the history)
GROWTH = 0.4  # the first day of the history is this much quieter than today
# Monday..Sunday: Saturdays are quieter, Sundays much quieter (many clinics close).
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.95, 0.6, 0.2)
# Opening hours 8:00-17:59, with the morning peak and the lunch dip.
HOUR_WEIGHTS = {8: 0.6, 9: 1.0, 10: 1.0, 11: 0.8, 12: 0.25, 13: 0.6, 14: 0.9, 15: 0.9, 16: 0.7, 17: 0.3}
QUARTERS = (0, 15, 30, 45)
RETURN_DAYS = (3, 21)  # a return visit or a repeat reading comes this many days after the previous one
REFERENCE_DAYS = (30, 180)  # staff-like records existed this long before the history starts


class Timeline:
    """Draws days and times of day in the clinic's shape, around `now`."""

    def __init__(self, rng: random.Random, now: dt.datetime):
        self.rng, self.now = rng, now
        self.today = now.date()
        self.start = dt.datetime.combine(self.today - dt.timedelta(days=HISTORY_DAYS), dt.time())
        self.end = dt.datetime.combine(self.today + dt.timedelta(days=AHEAD_DAYS), dt.time(23, 59))

    def past_day(self) -> dt.date:
        """A day of the history: recent days and weekdays likelier (rejection sampling)."""
        while True:
            back = self.rng.randint(0, HISTORY_DAYS)
            day = self.today - dt.timedelta(days=back)
            busy = (1 - GROWTH * back / HISTORY_DAYS) * WEEKDAY_WEIGHTS[day.weekday()]
            if self.rng.random() < busy:
                return day

    def ahead_day(self) -> dt.date:
        """A day of the next two weeks: the nearer, the fuller the book."""
        while True:
            ahead = self.rng.randint(0, AHEAD_DAYS)
            day = self.today + dt.timedelta(days=ahead)
            if self.rng.random() < (1 - 0.6 * ahead / AHEAD_DAYS) * WEEKDAY_WEIGHTS[day.weekday()]:
                return day

    def schedule_day(self) -> dt.date:
        """A booking's or a due date's day: mostly in the history, some ahead."""
        return self.ahead_day() if self.rng.random() < AHEAD_SHARE else self.past_day()

    def clock_time(self) -> dt.time:
        hours = list(HOUR_WEIGHTS)
        hour = self.rng.choices(hours, weights=[HOUR_WEIGHTS[h] for h in hours])[0]
        return dt.time(hour, self.rng.choice(QUARTERS))

    def at(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.clock_time())

    def past_moment(self) -> dt.datetime:
        """A moment already gone (a visit, a reading): never later than now."""
        moment = self.at(self.past_day())
        return moment if moment <= self.now else moment - dt.timedelta(days=1)

    def return_after(self, moment: dt.datetime, past_only: bool) -> dt.datetime | None:
        """A return some days after `moment`, at a new time of day; None if it would fall outside the window."""
        low, high = RETURN_DAYS
        day = (moment + dt.timedelta(days=self.rng.randint(low, high))).date()
        if WEEKDAY_WEIGHTS[day.weekday()] < 0.5 and self.rng.random() < 0.7:
            day += dt.timedelta(days=7 - day.weekday())  # a Sunday return mostly moves to Monday
        again = self.at(day)
        if again > (self.now if past_only else self.end):
            return None
        return again

    def joined(self, count: int) -> list[dt.datetime]:
        """When `count` main records (patients) were registered, in order: most during the history."""
        moments = []
        for _ in range(count):
            if self.rng.random() < 0.15:  # patients from before the history
                day = self.start.date() - dt.timedelta(days=self.rng.randint(1, 365))
                moments.append(self.at(day))
            else:
                moments.append(self.past_moment())
        return sorted(moments)

    def reference(self) -> dt.datetime:
        """When a staff-like record was made: before the history starts."""
        low, high = REFERENCE_DAYS
        return self.at(self.start.date() - dt.timedelta(days=self.rng.randint(low, high)))

    def booked_before(self, moment: dt.datetime) -> dt.datetime:
        """When a booking for `moment` was made: up to two weeks before, never after now."""
        made = moment - dt.timedelta(days=self.rng.randint(0, 14), minutes=self.rng.randint(5, 600))
        return min(made, self.now)

    def recorded_after(self, moment: dt.datetime) -> dt.datetime:
        """When a record of something that happened at `moment` was typed in: minutes later."""
        return min(moment + dt.timedelta(minutes=self.rng.randint(2, 45)), self.now)

    def between(self, low: dt.datetime) -> dt.datetime:
        """A moment after `low` and before now."""
        low = min(max(low, self.start - dt.timedelta(days=365)), self.now)
        seconds = int((self.now - low).total_seconds())
        return low + dt.timedelta(seconds=self.rng.randint(0, max(seconds, 0)))
