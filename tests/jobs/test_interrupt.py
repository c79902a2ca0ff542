"""SIGINT/SIGTERM stop long loops at a safe point with 130/143 (06 §1, §2)."""

import os
import signal
import subprocess
import sys

import pytest

from invenio_stats_dashboard.jobs.interrupt import Interrupted, Interruption


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_signal_sets_flag_and_check_raises(signum, code):
    before = signal.getsignal(signum)
    with Interruption() as stop:
        stop.check()
        os.kill(os.getpid(), signum)
        assert stop.requested
        with pytest.raises(Interrupted) as stopped:
            stop.check()
    assert stopped.value.exit_code == code
    assert signal.getsignal(signum) is before


def test_second_sigint_raises_at_once():
    with Interruption():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
    assert stopped.value.exit_code == 130


def test_repeated_sigterm_waits_for_the_safe_point():
    with Interruption() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM
        with pytest.raises(Interrupted):
            stop.check()


def test_real_process_exits_143_after_its_safe_point():
    program = (
        "import sys, time\n"
        "from invenio_stats_dashboard.jobs.interrupt import Interrupted, Interruption\n"
        "with Interruption() as stop:\n"
        "    print('ready', flush=True)\n"
        "    try:\n"
        "        for i in range(600):\n"
        "            time.sleep(0.05)\n"
        "            stop.check()\n"
        "    except Interrupted as error:\n"
        "        print('saved', i, flush=True)\n"
        "        sys.exit(error.exit_code)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=20)
    assert child.returncode == 143
    assert out.startswith("saved ")
