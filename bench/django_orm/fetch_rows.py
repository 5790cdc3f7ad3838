"""Django's side of `bench/examples/fetch_rows.rs`, on the same SQLite file.

    python fetch_rows.py search /tmp/rows.sqlite3 delta 50
    python fetch_rows.py run /tmp/rows.sqlite3 list|iterator

`search` times the 50-row case-insensitive search page
(`name__icontains`, newest first) and prints the median, as the Rust
program's `search` does. `run` fetches every row with `list(qs)` or
`qs.iterator()` and prints the time and the peak resident memory above the
memory before the fetch, per row.

Run it with the peers' venv python (Django 5).
"""

import sys
import time

import django
from django.conf import settings


def configure(path):
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": path}},
        INSTALLED_APPS=[],
        USE_TZ=True,
        TIME_ZONE="UTC",
    )
    django.setup()
    from django.db import models

    class Item(models.Model):
        name = models.CharField(max_length=100)
        price = models.FloatField()
        created = models.DateTimeField()
        flag = models.BooleanField()

        class Meta:
            app_label = "bench"
            db_table = "bench_item"
            managed = False

    return Item


def status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes():
    return status_bytes("VmRSS:")


def hwm_bytes():
    return status_bytes("VmHWM:")


def search(Item, word, times):
    def page():
        return list(Item.objects.filter(name__icontains=word).order_by("-created")[:50])

    first = page()
    took = []
    for _ in range(times):
        started = time.perf_counter()
        items = page()
        took.append((time.perf_counter() - started) * 1000)
        assert len(items) == len(first)
    took.sort()
    print(
        f"search={word} rows={len(first)} median_ms={took[len(took) // 2]:.2f} "
        f"min_ms={took[0]:.2f} first={first[0].name if first else ''}"
    )


def run(Item, mode):
    assert list(Item.objects.all()[:1]), "seed the table first"
    # Forget the peak so far (Linux 4.0+): from here VmHWM is this fetch's.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = rss_bytes()
    started = time.perf_counter()
    if mode == "list":
        items = list(Item.objects.all())
        rows, checksum = len(items), sum(len(i.name) for i in items)
    elif mode == "iterator":
        rows = checksum = 0
        for item in Item.objects.all().iterator():
            rows += 1
            checksum += len(item.name)
    else:
        sys.exit(f"unknown mode {mode!r}: list or iterator")
    secs = time.perf_counter() - started
    peak = hwm_bytes() - base
    print(
        f"mode=django-{mode} rows={rows} secs={secs:.3f} peak_mb={peak / 1048576:.1f} "
        f"bytes_per_row={peak // max(rows, 1)} checksum={checksum}"
    )


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("search", "run"):
        sys.exit(__doc__)
    Item = configure(sys.argv[2])
    if sys.argv[1] == "search":
        search(Item, sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 50)
    else:
        run(Item, sys.argv[3])


if __name__ == "__main__":
    main()
