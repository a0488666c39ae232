"""No account enumeration by time (SPEC §4): login, register and password reset take
as long for a known email as for an unknown one.

For each endpoint, 30 requests with a known email and 30 with unknown ones are
interleaved (alternating which goes first, so drift in machine load hits both
sides alike); the test fails when the medians differ by more than 20%. The known
account's hash and the dummy use a production argon2id configuration (32 MiB,
t=2, p=1: above OWASP's minimum of 19 MiB, t=2) — it is the cost being hidden —
lighter than Warden's default (64 MiB, t=3, p=4) so the module stays near 20 s on
two cores. With a cheaper hash the views' bookkeeping (a known account's failure
updates its document) would dominate what is timed, which no deployment sees.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import mongomock
import pytest
from falcon import testing

from core.clock import FixedClock
from core.passwords import PasswordHasher
from core.settings import Argon2Params
from events.memory import InMemoryEventStore
from services.deps import Deps
from tests.conftest import CHEAP_ARGON2, Api, make_settings

pytestmark = pytest.mark.slow  # ~20 s: 180 timed requests, most paying for argon2

ROUNDS = 30
MAX_RATIO = 1.2
KNOWN = "known@example.com"
PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
PRODUCTION_LIKE = Argon2Params(time_cost=2, memory_cost=32768, parallelism=1)

Call = Callable[[int], testing.Result]


@pytest.fixture
def timed_api(clock: FixedClock) -> Api:
    settings = make_settings(argon2=PRODUCTION_LIKE)  # rate limits off (make_settings' default)
    built = Deps.build(settings, mongomock.MongoClient(tz_aware=True)["timing"], InMemoryEventStore(clock), clock)
    built.ensure_schema()
    api = Api(built)
    production = built.hasher
    built.hasher = PasswordHasher(CHEAP_ARGON2)  # bystanders only: quick to create
    for n in range(20):  # other accounts in the view, so a lookup is not trivially empty
        api.register(f"someone{n}@example.com")
    built.hasher = production  # the known account's hash costs what the dummy costs
    api.register(KNOWN)
    return api


def _timed(call: Call, n: int) -> tuple[float, testing.Result]:
    started = time.perf_counter()
    result = call(n)
    return time.perf_counter() - started, result


def medians(known: Call, unknown: Call) -> tuple[float, float]:
    known_times: list[float] = []
    unknown_times: list[float] = []
    for n in range(ROUNDS):
        order = [(known, known_times), (unknown, unknown_times)]
        for call, times in order if n % 2 == 0 else reversed(order):
            elapsed, result = _timed(call, n)
            assert result.status_code in (202, 401), result.text
            times.append(elapsed)
    return statistics.median(known_times), statistics.median(unknown_times)


def assert_same_time(endpoint: str, known: float, unknown: float) -> None:
    ratio = max(known, unknown) / min(known, unknown)
    print(f"{endpoint}: median known {known * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms, ratio {ratio:.3f}")
    assert ratio <= MAX_RATIO, f"{endpoint}: known {known * 1000:.1f} ms vs unknown {unknown * 1000:.1f} ms"


def test_login_takes_as_long_for_unknown_emails(timed_api: Api) -> None:
    def known(n: int) -> testing.Result:
        return timed_api.call("POST", "/api/auth/login", {"email": KNOWN, "password": WRONG})

    def unknown(n: int) -> testing.Result:
        return timed_api.call("POST", "/api/auth/login", {"email": f"nobody{n}@example.com", "password": WRONG})

    assert_same_time("login", *medians(known, unknown))


def test_register_takes_as_long_for_existing_emails(timed_api: Api) -> None:
    def body(email: str) -> dict[str, str]:
        return {"email": email, "password": PASSWORD, "full_name": "Timing"}

    def known(n: int) -> testing.Result:
        return timed_api.call("POST", "/api/auth/register", body(KNOWN))

    def unknown(n: int) -> testing.Result:
        return timed_api.call("POST", "/api/auth/register", body(f"new{n}@example.com"))

    assert_same_time("register", *medians(known, unknown))


def test_password_reset_takes_as_long_for_unknown_emails(timed_api: Api) -> None:
    def known(n: int) -> testing.Result:
        return timed_api.call("POST", "/api/auth/password-reset/request", {"email": KNOWN})

    def unknown(n: int) -> testing.Result:
        return timed_api.call("POST", "/api/auth/password-reset/request", {"email": f"nobody{n}@example.com"})

    assert_same_time("password reset", *medians(known, unknown))
