"""The handler threads' side, without I/O: the bounded queue of deliveries waiting for a thread, and
the handlers asked to stop that have not returned. As jobs-worker's job_pool and stopped_handlers:
the threads are a fixed set, and Python cannot end a thread, so a handler that ignores its stop
keeps its thread busy until it returns; jobs waiting behind it are released by their timeout.

Thread safety: WorkQueue may be used from any thread; StoppedHandlers belongs to the connection
thread."""
import collections
import threading

# A handler still running this long after it was asked to stop ignores its stop: it is reported
# once as abandoned (jobs-worker's stopped_handlers::abandon_after).
ABANDON_AFTER_S = 1.0


class WorkQueue:
    """Deliveries waiting for a handler thread, at most `capacity`. The runtime holds at most its
    prefetch of deliveries, so it only fills when handlers that ignore their stop pile up."""

    def __init__(self, capacity, stale):
        self.capacity = capacity
        self._stale = stale  # stale(item): it will never run (withdrawn, lost): dropped to make room
        self._items = collections.deque()
        self._ready = threading.Condition()

    def put(self, item):
        """False when full: the item is not taken."""
        with self._ready:
            if len(self._items) >= self.capacity:
                self._items = collections.deque(i for i in self._items if not self._stale(i))
            if len(self._items) >= self.capacity:
                return False
            self._items.append(item)
            self._ready.notify()
            return True

    def get(self):
        """The oldest item; waits for one."""
        with self._ready:
            while not self._items:
                self._ready.wait()
            return self._items.popleft()

    def __len__(self):
        with self._ready:
            return len(self._items)


class StoppedHandlers:
    """Handlers asked to stop (their job timed out, or was reported CANCELLED past its cancel
    deadline) that have not returned yet, by a key of the runtime's (its session and delivery tag).
    Entries live until their handler returns, so one that never returns is reported once. Time is
    passed in."""

    def __init__(self):
        self._handlers = {}  # key -> [uuid, asked at, reported]

    def stopped(self, key, uuid_, now):
        self._handlers[key] = [uuid_, now, False]

    def returned(self, key):
        """Its handler returned; the uuid of its job when it had been reported abandoned, else None."""
        entry = self._handlers.pop(key, None)
        return entry[0] if entry and entry[2] else None

    def abandoned(self, now):
        """The uuids of the handlers that became abandoned by `now`, each reported once."""
        out = []
        for entry in self._handlers.values():
            if not entry[2] and now >= entry[1] + ABANDON_AFTER_S:
                entry[2] = True
                out.append(entry[0])
        return out

    def running(self):
        """Handlers stopped and still running (abandoned or not)."""
        return len(self._handlers)
