"""MAVLink protocol handling of the simulated ArduCopter, with pymavlink-encoded bytes both ways."""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sim.sitl import Mode

GCS = (255, mavlink.MAV_COMP_ID_MISSIONPLANNER)


def test_heartbeat_says_arducopter_quadrotor_with_mode_and_armed_flags(make_gcs) -> None:
    gcs = make_gcs(sysid=3)
    hb = gcs.run(1.1)
    beats = [m for m in hb if m.get_type() == "HEARTBEAT"]
    assert beats and all(m.get_srcSystem() == 3 and m.get_srcComponent() == 1 for m in beats)
    hb = beats[-1]
    assert (hb.type, hb.autopilot, hb.custom_mode) == (
        mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, Mode.STABILIZE,
    )  # fmt: skip
    assert hb.base_mode & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    assert not hb.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED
    assert hb.system_status == mavlink.MAV_STATE_STANDBY
    gcs.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, Mode.GUIDED)
    gcs.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    hb = gcs.of("HEARTBEAT")[-1]
    assert hb.custom_mode == Mode.GUIDED
    assert hb.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED
    assert hb.base_mode & mavlink.MAV_MODE_FLAG_GUIDED_ENABLED
    assert hb.system_status == mavlink.MAV_STATE_ACTIVE
    assert all(m.get_msgbuf()[0] == 0xFD for m in gcs.received)  # MAVLink 2 frames


def test_default_streams_carry_what_ground_software_waits_for(make_gcs) -> None:
    gcs = make_gcs()
    kinds = Counter(m.get_type() for m in gcs.run(10))
    for kind in (
        "HEARTBEAT", "SYS_STATUS", "GPS_RAW_INT", "GLOBAL_POSITION_INT", "ATTITUDE", "VFR_HUD",
        "EKF_STATUS_REPORT", "BATTERY_STATUS", "MISSION_CURRENT", "SYSTEM_TIME",
    ):  # fmt: skip
        assert kinds[kind] >= 5, kind
    assert kinds["HEARTBEAT"] == 10
    assert kinds["ATTITUDE"] == pytest.approx(40, abs=1)  # SR0_EXTRA1 4 Hz
    gps = gcs.of("GPS_RAW_INT")[-1]
    assert gps.fix_type == 3 and gps.satellites_visible >= 6
    assert abs(gps.lat / 1e7 - 36.70) < 1e-4 and abs(gps.lon / 1e7 - 119.16) < 1e-4
    home = gcs.of("HOME_POSITION")[0]
    assert (home.latitude, home.altitude) == (pytest.approx(367000000, abs=200), pytest.approx(25000, abs=5000))
    ekf = gcs.of("EKF_STATUS_REPORT")[-1]
    assert ekf.flags & mavlink.EKF_POS_HORIZ_ABS and ekf.flags & mavlink.EKF_PRED_POS_HORIZ_ABS


def test_request_data_stream_and_message_interval_change_rates(make_gcs) -> None:
    gcs = make_gcs()
    gcs.send(mavlink.MAVLink_request_data_stream_message(1, 1, mavlink.MAV_DATA_STREAM_POSITION, 10, 1))
    gcs.send(mavlink.MAVLink_request_data_stream_message(1, 1, mavlink.MAV_DATA_STREAM_EXTRA2, 0, 0))
    ack = gcs.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_ATTITUDE, 50_000)
    assert ack.result == mavlink.MAV_RESULT_ACCEPTED
    kinds = Counter(m.get_type() for m in gcs.run(10, dt=0.02))
    assert kinds["GLOBAL_POSITION_INT"] == pytest.approx(100, abs=2)
    assert kinds["ATTITUDE"] == pytest.approx(200, abs=2)
    assert kinds["VFR_HUD"] == 0
    assert gcs.vehicle.params["SR0_POSITION"] == 10  # REQUEST_DATA_STREAM stores the rate, as ArduPilot
    gcs.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_ATTITUDE, -1)
    gcs.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_VFR_HUD, 1_000_000)
    kinds = Counter(m.get_type() for m in gcs.run(5))
    assert kinds["ATTITUDE"] == 0 and kinds["VFR_HUD"] == 5
    gcs.command(mavlink.MAV_CMD_GET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_VFR_HUD)
    assert gcs.of("MESSAGE_INTERVAL")[-1].interval_us == 1_000_000
    ack = gcs.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_RAW_IMU, 100_000)
    assert ack.result == mavlink.MAV_RESULT_DENIED  # not a message this vehicle produces


def test_request_message_and_capabilities(make_gcs) -> None:
    gcs = make_gcs()
    ack = gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
    assert ack.result == mavlink.MAV_RESULT_ACCEPTED
    version = gcs.of("AUTOPILOT_VERSION")[-1]
    for capability in (
        mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2, mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_INT,
        mavlink.MAV_PROTOCOL_CAPABILITY_COMMAND_INT, mavlink.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT,
        mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT,
    ):  # fmt: skip
        assert version.capabilities & capability
    assert not version.capabilities & mavlink.MAV_PROTOCOL_CAPABILITY_FTP
    assert version.flight_sw_version >> 24 == 4
    gcs.command(mavlink.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES, 1)
    assert len(gcs.of("AUTOPILOT_VERSION")) == 2
    assert gcs.command(mavlink.MAV_CMD_GET_HOME_POSITION).result == mavlink.MAV_RESULT_ACCEPTED
    assert gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, 9999).result == mavlink.MAV_RESULT_DENIED


def test_parameter_list_read_by_index_and_name_and_set(make_gcs) -> None:
    gcs = make_gcs()
    first = gcs.send(mavlink.MAVLink_param_request_list_message(1, 1))
    values = [m for m in first + gcs.run(2) if m.get_type() == "PARAM_VALUE"]
    count = values[0].param_count
    assert count > 300
    assert sorted(m.param_index for m in values) == list(range(count))
    by_name = {m.param_id: m for m in values}
    for name in ("WPNAV_SPEED", "WPNAV_SPEED_UP", "WPNAV_SPEED_DN", "LAND_SPEED", "RTL_ALT", "PILOT_SPEED_UP",
                 "BATT_CAPACITY", "FS_GCS_ENABLE", "FENCE_ENABLE", "SYSID_THISMAV", "ARMING_CHECK"):  # fmt: skip
        assert name in by_name
    assert by_name["WPNAV_SPEED"].param_value == 500 and by_name["LAND_SPEED"].param_value == 50
    assert by_name["RTL_ALT"].param_type == mavlink.MAV_PARAM_TYPE_INT32
    assert by_name["WPNAV_SPEED"].param_type == mavlink.MAV_PARAM_TYPE_REAL32

    (reply,) = gcs.send(mavlink.MAVLink_param_request_read_message(1, 1, b"", by_name["RTL_ALT"].param_index))
    assert (reply.param_id, reply.param_value) == ("RTL_ALT", 1500)
    (reply,) = gcs.send(mavlink.MAVLink_param_request_read_message(1, 1, b"LAND_SPEED", -1))
    assert reply.param_index == by_name["LAND_SPEED"].param_index
    assert gcs.send(mavlink.MAVLink_param_request_read_message(1, 1, b"NO_SUCH_PARAM", -1)) == []

    (echo,) = gcs.send(mavlink.MAVLink_param_set_message(1, 1, b"WPNAV_SPEED", 750.0, mavlink.MAV_PARAM_TYPE_REAL32))
    assert (echo.param_id, echo.param_value, echo.param_count) == ("WPNAV_SPEED", 750.0, count)
    assert gcs.vehicle.frame.limits.speed_mps == 7.5  # the flight model follows the parameter
    (echo,) = gcs.send(mavlink.MAVLink_param_set_message(1, 1, b"RTL_ALT", 2000.4, mavlink.MAV_PARAM_TYPE_INT32))
    assert echo.param_value == 2000  # integer parameters are rounded
    assert gcs.send(mavlink.MAVLink_param_set_message(1, 1, b"NO_SUCH_PARAM", 1.0, 9)) == []
    assert gcs.send(mavlink.MAVLink_param_request_read_message(2, 1, b"RTL_ALT", -1)) == []  # for sysid 2


def upload(gcs, items, as_int: bool, mission_type: int = 0) -> list:
    """Upload wire items (seq 0 = home for the mission); returns every reply."""
    replies = gcs.send(mavlink.MAVLink_mission_count_message(1, 1, len(items), mission_type))
    for seq, (command, lat, lon, alt) in enumerate(items):
        assert replies[-1].get_type() == "MISSION_REQUEST" and replies[-1].seq == seq
        assert (replies[-1].target_system, replies[-1].target_component) == GCS
        frame = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
        if as_int:
            msg = mavlink.MAVLink_mission_item_int_message(
                1, 1, seq, frame, command, 0, 1, 0, 0, 0, 0, round(lat * 1e7), round(lon * 1e7), alt, mission_type
            )
        else:
            msg = mavlink.MAVLink_mission_item_message(
                1, 1, seq, frame, command, 0, 1, 0, 0, 0, 0, lat, lon, alt, mission_type
            )
        replies = gcs.send(msg)
    return replies


def download(gcs, as_int: bool, mission_type: int = 0) -> list:
    (count,) = gcs.send(mavlink.MAVLink_mission_request_list_message(1, 1, mission_type))
    items = []
    for seq in range(count.count):
        request = mavlink.MAVLink_mission_request_int_message if as_int else mavlink.MAVLink_mission_request_message
        (item,) = gcs.send(request(1, 1, seq, mission_type))
        assert item.get_type() == ("MISSION_ITEM_INT" if as_int else "MISSION_ITEM") and item.seq == seq
        items.append(item)
    gcs.send(mavlink.MAVLink_mission_ack_message(1, 1, mavlink.MAV_MISSION_ACCEPTED, mission_type))
    return items


PLAN = [
    (mavlink.MAV_CMD_NAV_WAYPOINT, 0.0, 0.0, 0.0),  # home placeholder
    (mavlink.MAV_CMD_NAV_TAKEOFF, 0.0, 0.0, 15.0),
    (mavlink.MAV_CMD_NAV_WAYPOINT, 36.7012345, 119.1612345, 20.0),
    (mavlink.MAV_CMD_NAV_WAYPOINT, 36.7023456, 119.1598765, 25.0),
    (mavlink.MAV_CMD_NAV_LAND, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("up_int", "down_int"), [(False, False), (False, True), (True, False), (True, True)])
def test_mission_round_trip_float_and_int_with_home_as_item_zero(make_gcs, up_int: bool, down_int: bool) -> None:
    gcs = make_gcs()
    replies = upload(gcs, PLAN, as_int=up_int)
    ack = next(m for m in replies if m.get_type() == "MISSION_ACK")
    assert ack.type == mavlink.MAV_MISSION_ACCEPTED and (ack.target_system, ack.target_component) == GCS
    assert "Flight plan received" in gcs.texts()
    assert gcs.vehicle.params["MIS_TOTAL"] == 4
    items = download(gcs, as_int=down_int)
    assert len(items) == len(PLAN)
    home = items[0]
    home_lat = home.x / 1e7 if down_int else home.x
    assert home_lat == pytest.approx(36.70, abs=1e-4)  # item 0 is the vehicle's home, not what was uploaded
    assert home.frame == mavlink.MAV_FRAME_GLOBAL and home.z == pytest.approx(25.0, abs=3)
    # float32 MISSION_ITEM degrees carry ~4e-6 deg here; MISSION_ITEM_INT carries 1e-7
    tolerance = 1e-7 if up_int and down_int else 5e-6
    for (command, lat, lon, alt), item in zip(PLAN[1:], items[1:], strict=True):
        scale = 1e7 if down_int else 1.0
        assert item.command == command
        assert item.x / scale == pytest.approx(lat, abs=tolerance)
        assert item.y / scale == pytest.approx(lon, abs=tolerance)
        assert item.z == pytest.approx(alt)
        assert item.frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT


def test_mission_clear_count_zero_bad_seq_and_fence_list(make_gcs) -> None:
    gcs = make_gcs()
    upload(gcs, PLAN, as_int=True)
    (ack,) = gcs.send(mavlink.MAVLink_mission_clear_all_message(1, 1, 0))
    assert ack.type == mavlink.MAV_MISSION_ACCEPTED
    assert [i.seq for i in download(gcs, as_int=True)] == [0]  # only home
    (bad,) = gcs.send(mavlink.MAVLink_mission_request_int_message(1, 1, 7, 0))
    assert (bad.get_type(), bad.type) == ("MISSION_ACK", mavlink.MAV_MISSION_INVALID_SEQUENCE)
    fence = [(mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION, 36.70, 119.16, 0.0)]
    replies = upload(gcs, fence, as_int=True, mission_type=mavlink.MAV_MISSION_TYPE_FENCE)
    assert replies[-1].type == mavlink.MAV_MISSION_ACCEPTED
    assert len(download(gcs, as_int=True, mission_type=mavlink.MAV_MISSION_TYPE_FENCE)) == 1  # no home here
    (ack,) = gcs.send(mavlink.MAVLink_mission_count_message(1, 1, 0, 0))
    assert ack.type == mavlink.MAV_MISSION_ACCEPTED


def test_upload_rerequests_a_missing_item_and_gives_up_on_a_silent_gcs(make_gcs) -> None:
    gcs = make_gcs()
    (request,) = gcs.send(mavlink.MAVLink_mission_count_message(1, 1, 3, 0))
    assert request.seq == 0
    again = [m for m in gcs.run(2) if m.get_type() == "MISSION_REQUEST"]
    assert [m.seq for m in again] == [0]
    gcs.run(40)
    acks = gcs.of("MISSION_ACK")
    assert acks[-1].type == mavlink.MAV_MISSION_OPERATION_CANCELLED


def test_mode_changes_by_set_mode_and_do_set_mode(make_gcs) -> None:
    gcs = make_gcs()
    (ack,) = [m for m in gcs.send(mavlink.MAVLink_set_mode_message(1, 1, Mode.LOITER)) if m.get_type() == "COMMAND_ACK"]
    assert (ack.command, ack.result) == (11, mavlink.MAV_RESULT_ACCEPTED)  # ArduPilot acks SET_MODE as "command" 11
    assert gcs.vehicle.mode is Mode.LOITER and gcs.of("HEARTBEAT")[-1].custom_mode == Mode.LOITER
    ack = gcs.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, Mode.ALT_HOLD)
    assert ack.result == mavlink.MAV_RESULT_ACCEPTED and gcs.vehicle.mode is Mode.ALT_HOLD
    assert (ack.target_system, ack.target_component) == GCS
    ack = gcs.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, 12)
    assert ack.result == mavlink.MAV_RESULT_DENIED  # no ArduCopter mode 12
    ack = gcs.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_GUIDED_DISARMED, Mode.GUIDED)
    assert ack.result == mavlink.MAV_RESULT_DENIED  # base mode without the custom-mode flag
    ack = gcs.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, Mode.AUTO)
    assert ack.result == mavlink.MAV_RESULT_FAILED and "Mode change to AUTO failed: no mission" in gcs.texts()
    gcs.vehicle.lose_gps()
    gcs.run(3)
    ack = gcs.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, Mode.GUIDED)
    assert ack.result == mavlink.MAV_RESULT_FAILED and gcs.vehicle.mode is Mode.ALT_HOLD
    assert "Mode change to GUIDED failed: requires position" in gcs.texts()
    assert gcs.command(mavlink.MAV_CMD_DO_SET_MODE, 1, Mode.LAND).result == mavlink.MAV_RESULT_ACCEPTED


def test_command_acks_arm_takeoff_and_unsupported(make_gcs) -> None:
    gcs = make_gcs(gps_lock_s=30.0)  # no GPS fix yet
    gcs.send(mavlink.MAVLink_set_mode_message(1, 1, Mode.STABILIZE))
    gcs.vehicle.mode = Mode.GUIDED  # as if set before the fix was lost; arming must still refuse
    arm = mavlink.MAV_CMD_COMPONENT_ARM_DISARM
    ack = gcs.command(arm, 1)
    assert ack.result == mavlink.MAV_RESULT_FAILED  # ArduPilot answers a failed pre-arm check with FAILED
    assert "PreArm: Need 3D Fix" in gcs.texts() and not gcs.vehicle.armed
    assert gcs.command(arm, 1, 2989).result == mavlink.MAV_RESULT_ACCEPTED  # forced
    assert gcs.command(arm, 0).result == mavlink.MAV_RESULT_ACCEPTED

    gcs = make_gcs()
    assert gcs.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10).result == mavlink.MAV_RESULT_FAILED
    gcs.command(mavlink.MAV_CMD_DO_SET_MODE, 1, Mode.RTL)
    assert gcs.command(arm, 1).result == mavlink.MAV_RESULT_FAILED and "Arm: Mode not armable" in gcs.texts()
    gcs.command(mavlink.MAV_CMD_DO_SET_MODE, 1, Mode.GUIDED)
    assert gcs.command(arm, 1).result == mavlink.MAV_RESULT_ACCEPTED and gcs.vehicle.armed
    assert gcs.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10).result == mavlink.MAV_RESULT_ACCEPTED
    gcs.run(3)
    assert gcs.command(arm, 0).result == mavlink.MAV_RESULT_FAILED  # in flight
    assert gcs.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10).result == mavlink.MAV_RESULT_FAILED
    assert gcs.command(mavlink.MAV_CMD_DO_SET_SERVO, 5, 1500).result == mavlink.MAV_RESULT_UNSUPPORTED
    assert gcs.command(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH).result == mavlink.MAV_RESULT_ACCEPTED
    assert gcs.vehicle.mode is Mode.RTL
    assert gcs.command(mavlink.MAV_CMD_NAV_LAND, use_int=True).result == mavlink.MAV_RESULT_ACCEPTED
    assert gcs.vehicle.mode is Mode.LAND
    assert gcs.command(arm, 0, 21196).result == mavlink.MAV_RESULT_ACCEPTED and not gcs.vehicle.armed


def test_mavftp_is_refused_at_once_with_a_nak(make_gcs) -> None:
    gcs = make_gcs()
    request = struct.pack("<HBBBBBBI", 41, 0, 4, 16, 0, 0, 0, 0) + b"@PARAM/param.pck"  # OpenFileRO
    payload = list(request.ljust(251, b"\x00"))
    (reply,) = gcs.send(mavlink.MAVLink_file_transfer_protocol_message(0, 1, 1, payload))
    assert (reply.target_system, reply.target_component) == GCS
    seq, session, opcode, size, req_opcode = struct.unpack_from("<HBBBB", bytes(reply.payload))
    assert (seq, session, opcode, size, req_opcode) == (42, 0, 129, 1, 4)  # NAK answering OpenFileRO
    assert reply.payload[12] == 7  # MAVFTP error "unknown command"


def test_timesync_is_answered(make_gcs) -> None:
    gcs = make_gcs()
    (reply,) = gcs.send(mavlink.MAVLink_timesync_message(0, 123456789))
    assert reply.ts1 == 123456789 and reply.tc1 == round(gcs.now * 1e9)
