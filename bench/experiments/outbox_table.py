#!/usr/bin/env python3
"""What the publisher's mark costs SQLite: the outbox as a flag in the job's row or as a table.

The writer's work for N published jobs, the way jobsd's writer does it (transactions of 64 new
jobs, each also marking the jobs of the transaction before as published), in three shapes:

  A   a `published` flag in the jobs row with a partial index (schema steps 1-9), marked by uuid
  A2  the same, marked by seq (the rowid)
  B   a table `outbox (seq INTEGER PRIMARY KEY)` (step 10): the mark deletes the job's row of it,
      found by uuid as jobsd does
  I   ingest only: the inserts of A, no mark

Run each on a copy of a table already holding 50 000 jobs, under callgrind, counting only inside
sqlite3_step (the Python around it is the same for all):

  d=$(mktemp -d); for v in A B; do /usr/bin/python3 outbox_table.py $v pre $d/pre-$v.db; done
  for v in A A2 B I; do cp $d/pre-$([ $v = B ] && echo B || echo A).db $d/run-$v.db
    valgrind --tool=callgrind --toggle-collect=sqlite3_step --callgrind-out-file=$d/cg-$v \\
      /usr/bin/python3 outbox_table.py $v run $d/run-$v.db; done

It prints the WAL bytes the run wrote (checkpoints off); callgrind prints the instructions.
uuids are time-ordered (UUIDv7-like), as jobsd's are.
"""
import os
import sqlite3
import sys
import time

variant, mode, db = sys.argv[1], sys.argv[2], sys.argv[3]
N_PRE, N, BATCH = 50_000, 4_000, 64

SCHEMA = """
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
  source_id TEXT NOT NULL, job_type TEXT NOT NULL, job_status TEXT NOT NULL,
  session_id TEXT NOT NULL DEFAULT '', version REAL, input TEXT NOT NULL, progress INTEGER,
  output TEXT, error TEXT, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  published INTEGER NOT NULL DEFAULT 0, idempotency_key TEXT, request_hash TEXT, batch_id TEXT,
  attempt INTEGER NOT NULL DEFAULT 1, expires_in_ms INTEGER, expires_at_ms INTEGER,
  cancel_requested_ms INTEGER, retry_at_ms INTEGER, priority INTEGER NOT NULL DEFAULT 3,
  fair_key REAL, traceparent TEXT, webhook_url TEXT, webhook_dest TEXT, webhook_events INTEGER);
CREATE INDEX jobs_unpublished ON jobs (seq) WHERE published = 0;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (account_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_account_created ON jobs (account_id, created_ms, uuid);
CREATE INDEX jobs_account_session ON jobs (account_id, session_id, created_ms, uuid);
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_held ON jobs (job_type, fair_key) WHERE fair_key IS NOT NULL;
CREATE INDEX jobs_expiring ON jobs (expires_at_ms)
  WHERE (published = 0 OR fair_key IS NOT NULL) AND expires_at_ms IS NOT NULL;
CREATE INDEX jobs_retry_due ON jobs (retry_at_ms) WHERE retry_at_ms IS NOT NULL;
CREATE INDEX jobs_running ON jobs (updated_ms) WHERE job_status IN ('STARTED', 'IN_PROGRESS');
"""

# A stored create body of the bench's shape (434 bytes).
INPUT = ('{"job_type":"ai_talking_video","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e",'
         '"version":2,"values":{"headline":"Spring launch: meet the new line","voiceover":'
         '{"audio_url":"https://cdn.example/voice/launch.mp3","effects":[]},"avatar":'
         '{"image_url":"https://cdn.example/avatars/ana.png"}},"background_music":'
         '"https://cdn.example/music/upbeat.mp3","background_volume":3E-1,"background_start":0,'
         '"session_id":"bench-2709c6eda9b00001"}')
INSERT = ("INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, version,"
          " input, created_ms, updated_ms, traceparent) VALUES (?,?,?,?,?,?,?,?,?,?,?)")

counter = int(time.time() * 1e6)  # grows across runs, so uuids stay time-ordered


def rows(n):
    global counter
    out = []
    for i in range(n):
        counter += 1
        uuid = '%08x-2a67-7000-9fb2-%012x' % (0x01a23a57, counter)
        out.append((uuid, 'acc_demo', '468ea7a0-66e1-4357-a760-236e54167f3e', 'ai_talking_video',
                    'QUEUED', 'bench-%016x' % counter, 2.0, INPUT, 1796275120731 + i,
                    1796275120731 + i, '00-b63428101dbecf01d3cfd90a3578b2fe-b45a384630b4e94b-01'))
    return out


con = sqlite3.connect(db, isolation_level=None)
con.execute('PRAGMA journal_mode=WAL')
con.execute('PRAGMA synchronous=OFF')
con.execute('PRAGMA wal_autocheckpoint=0')


def run(n):
    previous = []
    data = rows(n)
    for b in range(0, n, BATCH):
        con.execute('BEGIN')
        inserted = []
        for r in data[b:b + BATCH]:
            seq = con.execute(INSERT, r).lastrowid
            inserted.append((seq, r[0]))
            if variant == 'B':
                con.execute('INSERT INTO outbox (seq) VALUES (?)', (seq,))
        for seq, uuid in previous:
            if variant == 'A':
                con.execute('UPDATE jobs SET published = 1 WHERE uuid = ?', (uuid,))
            elif variant == 'A2':
                con.execute('UPDATE jobs SET published = 1 WHERE seq = ?', (seq,))
            elif variant == 'B':
                con.execute('DELETE FROM outbox WHERE seq = (SELECT seq FROM jobs WHERE uuid = ?)',
                            (uuid,))
        con.execute('COMMIT')
        previous = inserted


if mode == 'pre':
    con.executescript(SCHEMA)
    if variant == 'B':
        con.executescript('CREATE TABLE outbox (seq INTEGER PRIMARY KEY); DROP INDEX jobs_unpublished;')
    run(N_PRE)
    con.execute('PRAGMA wal_checkpoint(TRUNCATE)')
else:
    run(N)
    print(variant, 'WAL bytes per job', os.path.getsize(db + '-wal') / N)
