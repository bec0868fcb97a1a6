"""The one rule that derives a channel's subscription from its users' needs
(pvprobe.engine.needs): the same when a user comes and when one goes."""

import itertools

from pvprobe.engine.needs import ANNOUNCE, Subscription, Use, Users, wanted_subscription

TABLE, ONCE, LIGHT = Use.of(), Use.of(once=True), Use.of(once=True, light=True)
PLOT, STRIP, IMAGE = Use.of(monitor_arrays=True), Use.of(keep_all=True), Use.of(monitor_arrays=True, paced=True)


def _want(users: Users, big: bool = False, polling: bool = False, alarm_only: bool = False):
    return wanted_subscription(users.needs(), big=big, polling=polling, alarm_only=alarm_only)


def _users(*uses: Use) -> Users:
    u = Users()
    for use in uses:
        u.add(use)
    return u


def test_each_mix_of_users_wants_one_subscription():
    assert _want(_users(ONCE)) is None
    assert _want(_users(ONCE, TABLE)) == Subscription()
    assert _want(_users(TABLE), big=True) is None                 # big arrays only when asked
    assert _want(_users(TABLE, PLOT), big=True) == Subscription()
    assert _want(_users(IMAGE), big=True) == ANNOUNCE
    assert _want(_users(TABLE, IMAGE), big=True) == ANNOUNCE      # the table's user does not un-pace it
    assert _want(_users(IMAGE, PLOT), big=True) == Subscription()  # a full monitor serves both
    assert _want(_users(IMAGE, STRIP), big=True) == Subscription(every_sample=True)
    assert _want(_users(IMAGE), big=True, polling=True) is None
    assert _want(_users(TABLE), alarm_only=True) == Subscription(alarm_only=True)
    assert _want(_users(STRIP), alarm_only=True) == Subscription(every_sample=True)
    assert not _users(LIGHT).needs().metadata and _users(LIGHT, ONCE).needs().metadata


def test_a_user_leaving_undoes_exactly_what_it_came_for():
    """For every order of users already there, adding one and removing it again gives
    back the same needs and subscription (no separate upgrade and downgrade)."""
    kinds = (TABLE, ONCE, LIGHT, PLOT, STRIP, IMAGE)
    for n in range(4):
        for before in itertools.product(kinds, repeat=n):
            for extra in kinds:
                users = _users(*before)
                needs0 = users.needs()
                users.add(extra)
                users.remove(extra)
                assert users.needs() == needs0, (before, extra)
                for big in (False, True):
                    assert _want(users, big=big) == wanted_subscription(
                        needs0, big=big, polling=False, alarm_only=False)


def test_remove_without_the_add_options_takes_back_the_last_use():
    users = _users(ONCE, TABLE)
    users.remove(Use.of(keep_all=True))     # nobody added that: the last use goes
    assert len(users) == 1 and users.needs().once
    users.remove(Use.of())
    assert len(users) == 0
