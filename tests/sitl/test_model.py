"""The flight model, battery and tether on their own (no MAVLink)."""

from __future__ import annotations

import itertools
import math

import pytest

from sim.sitl import Limits, Multirotor, Setpoint, Tether, TetherConfig
from sim.sitl.battery import Battery, PowerDraw, cell_voltage

DT = 0.05


def fly(frame: Multirotor, sp: Setpoint, seconds: float) -> list[tuple[float, float, float, float]]:
    """Step the model; returns (north, east, alt, time) after each step."""
    track = []
    for k in range(round(seconds / DT)):
        frame.step(DT, sp)
        track.append((frame.north_m, frame.east_m, frame.alt_m, (k + 1) * DT))
    return track


def test_climb_and_descent_respect_arducopter_default_speeds() -> None:
    frame = Multirotor(Limits())
    climb = fly(frame, Setpoint(north_m=0, east_m=0, alt_m=30), 30)
    rates = [(b[2] - a[2]) / DT for a, b in itertools.pairwise(climb)]
    assert max(rates) == pytest.approx(2.5, abs=0.01)  # WPNAV_SPEED_UP 250 cm/s
    assert frame.alt_m == pytest.approx(30, abs=0.05)
    reached = next(t for _, _, alt, t in climb if alt >= 29.5)
    assert 12 < reached < 16  # 30 m at 2.5 m/s plus acceleration and the braking curve
    descent = fly(frame, Setpoint(north_m=0, east_m=0, alt_m=0), 40)
    rates = [(a[2] - b[2]) / DT for a, b in itertools.pairwise(descent)]
    assert max(rates) == pytest.approx(1.5, abs=0.01)  # WPNAV_SPEED_DN 150 cm/s
    assert 0 <= frame.alt_m < 0.05  # a position target of 0 hovers just above ground; LAND touches down


def test_horizontal_flight_accelerates_cruises_and_stops_without_overshoot() -> None:
    frame = Multirotor(Limits())
    frame.alt_m = 20
    track = fly(frame, Setpoint(north_m=100, east_m=100, alt_m=20), 60)
    speeds = [math.hypot(b[0] - a[0], b[1] - a[1]) / DT for a, b in itertools.pairwise(track)]
    assert max(speeds) == pytest.approx(5.0, abs=0.01)  # WPNAV_SPEED 500 cm/s
    accels = [(b - a) / DT for a, b in itertools.pairwise(speeds)]
    assert max(abs(a) for a in accels) <= 2.5 + 0.05  # WPNAV_ACCEL 250 cm/s/s
    overshoot = max(math.hypot(n, e) for n, e, _, _ in track) - math.hypot(100, 100)
    assert overshoot < 0.05
    assert math.hypot(frame.north_m - 100, frame.east_m - 100) < 0.1
    assert frame.yaw_deg == pytest.approx(45, abs=1)  # turned to face its course


def test_attitude_tilts_forward_while_accelerating_and_levels_in_hover() -> None:
    frame = Multirotor(Limits(), yaw_deg=0)
    frame.alt_m = 10
    fly(frame, Setpoint(north_m=200, east_m=0, alt_m=10), 2)
    assert frame.pitch_deg < -5  # nose down to accelerate north
    assert abs(frame.roll_deg) < 1
    fly(frame, Setpoint(north_m=frame.north_m, east_m=0, alt_m=10), 20)
    assert abs(frame.pitch_deg) < 0.5


def test_ground_stops_a_descent_and_idle_keeps_the_vehicle_down() -> None:
    frame = Multirotor(Limits())
    frame.alt_m = 2
    fly(frame, Setpoint(climb_mps=-0.5), 10)
    assert frame.alt_m == 0 and frame.on_ground and frame.vu_mps == 0
    fly(frame, Setpoint(idle=True, alt_m=50), 5)
    assert frame.alt_m == 0


def test_battery_drains_with_current_and_voltage_follows_the_charge() -> None:
    battery = Battery(capacity_mah=3300)
    draw = PowerDraw()
    hover = draw.current_a(armed=True, airborne=True, speed_mps=0, climb_mps=0)
    cruise = draw.current_a(armed=True, airborne=True, speed_mps=5, climb_mps=0)
    assert cruise > hover > draw.current_a(armed=True, airborne=False, speed_mps=0, climb_mps=0)
    full_v = battery.voltage_v
    battery.step(600, hover)  # ten minutes of hover
    assert battery.consumed_mah == pytest.approx(hover * 600 / 3.6)
    assert battery.remaining_pct == round(100 * (1 - battery.consumed_mah / 3300))
    assert battery.voltage_v < full_v
    assert cell_voltage(1.0) == 4.2 and cell_voltage(0.0) == 3.3
    assert 0 < battery.time_remaining_s() < 600


def test_tether_holds_the_vehicle_inside_its_length_and_tension_rises_near_it() -> None:
    tether = Tether(TetherConfig(max_length_m=50))
    frame = Multirotor(Limits())
    tensions = []
    for _ in range(round(60 / DT)):
        frame.step(DT, Setpoint(north_m=0, east_m=0, alt_m=80))
        limit = tether.constrain(frame.north_m, frame.east_m, frame.alt_m)
        if limit is not None:
            frame.stop_outward(*limit)
        tether.step(DT, frame.north_m, frame.east_m, frame.alt_m)
        tensions.append((frame.alt_m, tether.tension_kg))
    assert frame.alt_m == pytest.approx(50, abs=1e-6)  # the ceiling, straight above the station
    assert frame.vu_mps == 0
    assert tether.deployed_m == pytest.approx(50)
    low = max(t for alt, t in tensions if alt < 40)
    assert tensions[-1][1] > low + 5  # taut at full length
    assert tether.ceiling_m(30, 40) == pytest.approx(0)  # 50 m out horizontally: no height left
