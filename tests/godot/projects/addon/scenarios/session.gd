extends "res://scenario.gd"
## SoireeSession driven by hand, with no socket: relay records in, signals and records out.

const P := preload("res://addons/soiree/protocol.gd")
const Double := preload("res://relay_double.gd")

var relay := Double.new()
var session: SoireeSession
var events: Array = []  # [signal name, args...] in the order emitted


func run() -> int:
	session = SoireeSession.new()
	add_child(session)
	for name in [
		"welcomed",
		"room_synced",
		"room_left",
		"member_joined",
		"member_left",
		"member_presence_changed",
		"object_spawned",
		"object_despawned",
		"state_changed",
		"ownership_changed",
		"master_changed",
		"rule_changed",
		"update_refused",
		"ask_received",
		"ask_cancelled",
		"request_answered",
		"event_received",
		"notice_received",
		"goodbye_received",
	]:
		var arguments: int = _signal_arguments(session, name)
		var recorders := [_on0, _on1, _on2, _on3, _on4]
		session.connect(name, recorders[arguments].bind(name))
	_hello_and_join()
	_live_records()
	_requests()
	await _answers_come_later()
	_resume()
	_failed_resume()
	_leaving_and_errors()
	_message_size()
	return finish()


static func _signal_arguments(object: Object, name: String) -> int:
	for info in object.get_signal_list():
		if info["name"] == name:
			return info["args"].size()
	return -1


# Bound arguments come after the signal's: one recorder per number of arguments.
func _on0(name: String) -> void:
	events.append([name, null, null, null, null])


func _on1(a: Variant, name: String) -> void:
	events.append([name, a, null, null, null])


func _on2(a: Variant, b: Variant, name: String) -> void:
	events.append([name, a, b, null, null])


func _on3(a: Variant, b: Variant, c: Variant, name: String) -> void:
	events.append([name, a, b, c, null])


func _on4(a: Variant, b: Variant, c: Variant, d: Variant, name: String) -> void:
	events.append([name, a, b, c, d])


func _names() -> Array:
	var names := events.map(func(e: Array) -> String: return e[0])
	events.clear()
	return names


func _hello_and_join() -> void:
	var join := session.join("lobby")
	check_equal(relay.sent(session), [], "nothing is sent before the connection starts")
	session.start()
	var records := relay.sent(session)
	check_equal(relay.types(records), ["HELLO", "JOIN"], "HELLO first, then the queued join")
	check_equal(records[0]["token"], PackedByteArray(), "no resume token at first")
	check_equal(records[1]["name"], "lobby", "the join names the room")
	session.receive(relay.welcome(5))
	check_equal(_names(), ["welcomed"], "WELCOME is reported")
	check(session.is_welcomed() and session.member_id == 5, "member id from WELCOME")
	check_equal(session.resume_token, relay.token, "the resume token is kept")
	check(abs(session.server_time_ms() - 1_700_000_000_000) < 5000, "the clock follows WELCOME")
	check_equal(
		[session.limits["idle_timeout_ms"], session.limits["max_state"]],
		[60000, 16384],
		"WELCOME_V1's limits, its seconds in milliseconds"
	)
	session.receive(relay.result(join.id, P.Status.OK, 3))
	check(not join.is_done(), "a join is not complete before its snapshot")
	var mine := "mine".to_utf8_buffer()
	var theirs := "theirs".to_utf8_buffer()
	session.receive(relay.snapshot(3, "lobby", [5, 7], [[1, 5, 5, 1, mine], [2, 7, 7, 4, theirs]]))
	check(join.is_done() and join.status == P.Status.OK and join.value == 3, "join: %s" % join)
	check_equal(
		_names(),
		[
			"member_joined",
			"member_joined",
			"object_spawned",
			"object_spawned",
			"room_synced",
			"request_answered"
		],
		"a snapshot's signals"
	)
	var lobby := session.room("lobby")
	check(lobby != null and lobby.synced and lobby.handle == 3, "the room is known and synced")
	check_equal(lobby.members.keys(), [5, 7], "members")
	check_equal(lobby.member_name(7), "Player 7", "a member's name")
	check(lobby.owns(1) and not lobby.owns(2), "owns() follows the owner field")
	check_equal(lobby.get_object(2).state, theirs, "the snapshot's state")
	check(lobby.members[7]["connected"], "members are connected unless told otherwise")
	session.receive(relay.record(P.MEMBER_PRESENCE, {"room": 3, "member": 7, "connected": 0}))
	check_equal(_names(), ["member_presence_changed"], "MEMBER_PRESENCE is reported")
	check(not lobby.members[7]["connected"], "a member in its grace window")
	session.receive(relay.record(P.MEMBER_PRESENCE, {"room": 3, "member": 7, "connected": 1}))
	check_equal(_names(), ["member_presence_changed"], "and back")
	check(lobby.members[7]["connected"], "connected again")


func _live_records() -> void:
	var lobby := session.room("lobby")
	var theirs := lobby.get_object(2)
	session.receive(relay.record(P.SERVER_PING, {"nonce": 77, "server_time_ms": 5}))
	var pong := relay.sent(session)
	check(
		pong.size() == 1 and pong[0]["type"] == P.PONG and pong[0]["nonce"] == 77, "PING answered"
	)
	var next := "next".to_utf8_buffer()
	session.receive(
		relay.record(
			P.STATE,
			{"room": 3, "object": 2, "epoch": 4, "position": Vector3(1, 2, 3), "state": next}
		)
	)
	check_equal(_names(), ["state_changed"], "a STATE from the owner")
	check(
		theirs.state == next and theirs.has_position and theirs.position == Vector3(1, 2, 3),
		"applied"
	)
	var stale := "stale".to_utf8_buffer()
	session.receive(
		relay.record(
			P.STATE, {"room": 3, "object": 2, "epoch": 3, "position": null, "state": stale}
		)
	)
	session.receive(
		relay.record(
			P.STATE, {"room": 3, "object": 1, "epoch": 1, "position": null, "state": stale}
		)
	)
	check_equal(_names(), [], "a STATE of another epoch, and our own echo, are skipped")
	check(theirs.state == next and lobby.get_object(1).state != stale, "nothing applied")
	session.receive(relay.record(P.MASTER, {"room": 3, "object": 2, "master": 5}))
	session.receive(relay.record(P.RULE, {"room": 3, "object": 2, "rule": P.Rule.ASK}))
	check_equal(_names(), ["master_changed", "rule_changed"], "MASTER and RULE")
	check(theirs.master == 5 and theirs.rule == P.Rule.ASK, "master and rule applied")
	session.receive(relay.member_joined(3, 8))
	session.receive(relay.record(P.MEMBER_LEFT, {"room": 3, "member": 8, "reason": 2}))
	check_equal(_names(), ["member_joined", "member_left"], "members come and go")
	session.receive(
		relay.record(P.EVENT_FROM, {"room": 3, "sender": 7, "payload": "hi".to_utf8_buffer()})
	)
	check(
		events.size() == 1 and events[0][2] == 7 and events[0][3] == "hi".to_utf8_buffer(), "event"
	)
	_names()
	session.receive(relay.record(P.ASK, {"room": 3, "object": 1, "ask": 12, "requester": 7}))
	check(events.size() == 1 and events[0][0] == "ask_received" and events[0][3] == 12, "ASK")
	_names()
	session.receive(relay.record(P.REFUSED, {"room": 3, "object": 1, "epoch": 1, "status": 13}))
	session.receive(relay.record(P.NOTICE, {"status": 17, "record_type": P.EVENT, "room": 3}))
	session.receive(
		relay.record(P.ASK_CANCELLED, {"room": 3, "object": 1, "ask": 12, "status": 22})
	)
	check_equal(_names(), ["update_refused", "notice_received", "ask_cancelled"], "refusals")
	session.receive(relay.record(P.RESULT, {"req": 999, "status": 0, "value": 0}))
	session.receive(
		relay.record(P.STATE, {"room": 9, "object": 2, "epoch": 4, "position": null, "state": next})
	)
	check_equal(_names(), [], "answers to nothing and records for other rooms are ignored")


func _requests() -> void:
	var lobby := session.room("lobby")
	var update := "pos".to_utf8_buffer()
	check_equal(lobby.update(1, update), P.Status.OK, "updating our object")
	check_equal(lobby.update(2, update), P.Status.NOT_OWNER, "updating theirs")
	check_equal(lobby.update(42, update), P.Status.UNKNOWN_OBJECT, "updating nothing")
	var big := PackedByteArray()
	big.resize(16385)
	check_equal(lobby.update(1, big), P.Status.TOO_LARGE, "a state over max_state")
	check_equal(lobby.send_event("yo".to_utf8_buffer(), [7]), P.Status.OK, "an event")
	var sent := relay.sent(session)
	check_equal(relay.types(sent), ["UPDATE", "EVENT"], "only what could succeed is sent")
	check(sent[0]["epoch"] == 1 and sent[0]["object"] == 1 and sent[0]["room"] == 3, "UPDATE")
	check_equal(sent[1]["targets"], [7], "EVENT targets")
	var grab := lobby.request_ownership(2)
	var answer := lobby.answer(1, 12, true)
	sent = relay.sent(session)
	check_equal(relay.types(sent), ["REQUEST", "ANSWER"], "requests are sent")
	check(sent[0]["req"] == grab.id and sent[1]["grant"] == 1 and sent[1]["ask"] == 12, "fields")
	# The relay's order: OWNER before the GRANTED that caused it (PROTOCOL.md §8).
	session.receive(relay.record(P.OWNER, {"room": 3, "object": 2, "owner": 5, "epoch": 5}))
	check(events.size() == 1 and events[0][3] == 7 and not grab.is_done(), "OWNER first")
	session.receive(relay.result(grab.id, P.Status.GRANTED, 5))
	session.receive(relay.result(answer.id, P.Status.OK))
	check(grab.status == P.Status.GRANTED and grab.value == 5 and grab.is_ok(), "GRANTED")
	check(lobby.owns(2) and lobby.get_object(2).epoch == 5, "we own it at the new epoch")
	check_equal(_names(), ["ownership_changed", "request_answered", "request_answered"], "order")
	check_equal(lobby.update(2, update), P.Status.OK, "and may update it")
	check_equal(relay.sent(session)[0]["epoch"], 5, "with the new epoch")
	var spawn := lobby.spawn(
		"ball".to_utf8_buffer(), P.Rule.ALLOW, P.Lifetime.PERSISTENT, Vector3.ONE
	)
	var spawn_record: Dictionary = relay.sent(session)[0]
	check(spawn_record["rule"] == 2 and spawn_record["lifetime"] == 1, "SPAWN fields")
	session.receive(relay.object_record(3, 9, 5, 5, 1, "ball".to_utf8_buffer()))
	session.receive(relay.result(spawn.id, P.Status.OK, 9))
	check(spawn.is_ok() and spawn.object_id == 9 and lobby.get_object(9) != null, "spawned")
	session.receive(relay.record(P.DESPAWNED, {"room": 3, "object": 9, "reason": 0}))
	check(lobby.get_object(9) == null, "DESPAWNED removes the object")
	_names()


func _answers_come_later() -> void:
	var refused := session.join("NOT A NAME!")
	check(refused.is_done() == false, "a join is sent even if the name is odd: the relay judges")
	session.take_outgoing()
	var lobby := session.room("lobby")
	var bad := lobby.set_rule(1, 7)
	check(bad.status == SoireeRequest.NOT_SENT and bad.error.contains("rule"), "bad rule: %s" % bad)
	var got: SoireeRequest = await bad.completed
	check(got == bad, "completed is emitted after the caller could await it")
	session.receive(relay.result(refused.id, P.Status.INVALID_NAME))
	check(
		refused.status == P.Status.INVALID_NAME and refused.status_name() == "INVALID_NAME", "name"
	)
	_names()


func _resume() -> void:
	var lobby := session.room("lobby")
	var kept := lobby.get_object(2)
	var release := lobby.release(2)
	session.connection_lost()
	check(release.status == SoireeRequest.NO_ANSWER, "requests in flight get NO_ANSWER")
	check(not session.is_welcomed() and not lobby.synced, "not welcomed, room not synced")
	check_equal(lobby.update(2, "x".to_utf8_buffer()), SoireeRequest.NOT_SENT, "no updates now")
	check_equal(lobby.release(2).status, SoireeRequest.NOT_SENT, "no requests for rooms now")
	_names()
	session.start()
	var hello: Array = relay.sent(session)
	check(hello.size() == 1 and hello[0]["token"] == relay.token, "HELLO carries the resume token")
	session.receive(relay.welcome(5, true))
	check_equal(relay.sent(session), [], "a resumed session joins nothing")
	var new_state := "after".to_utf8_buffer()
	# Object 1 is gone, 2 changed owner, 10 is new: the snapshot replaces the view.
	session.receive(
		relay.snapshot(3, "lobby", [5, 7], [[2, 5, 7, 6, new_state], [10, 7, 7, 1, new_state]])
	)
	check_equal(
		_names(),
		[
			"welcomed",
			"object_despawned",
			"ownership_changed",
			"rule_changed",
			"state_changed",
			"object_spawned",
			"room_synced"
		],
		"the resume snapshot's differences"
	)
	check(
		lobby.get_object(2) == kept and kept.owner == 7 and kept.epoch == 6,
		"same object, new owner"
	)
	check(lobby.get_object(1) == null and lobby.get_object(10) != null and lobby.synced, "replaced")


func _failed_resume() -> void:
	var lobby := session.room("lobby")
	session.connection_lost()
	session.start()
	relay.sent(session)
	session.receive(relay.welcome(9, false))
	var sent: Array = relay.sent(session)
	check(sent.size() == 1 and sent[0]["type"] == P.JOIN and sent[0]["name"] == "lobby", "rejoin")
	check(session.member_id == 9 and lobby.handle == 0, "a new member, the room not yet joined")
	session.receive(relay.result(sent[0]["req"], P.Status.OK, 4))
	session.receive(relay.snapshot(4, "lobby", [7, 9], [[10, 7, 7, 1, "after".to_utf8_buffer()]]))
	check(session.room("lobby") == lobby and lobby.handle == 4, "the same room, a new handle")
	check(lobby.get_object(10).room_handle == 4 and lobby.get_object(2) == null, "objects updated")
	check_equal(
		_names(),
		[
			"welcomed",
			"member_left",
			"member_joined",
			"object_despawned",
			"room_synced",
			"request_answered"
		],
		"the rejoin's differences"
	)


func _leaving_and_errors() -> void:
	check(session.receive(PackedByteArray([0xA1, 0x20])) != "", "a malformed message is reported")
	session.receive(relay.record(P.GOODBYE, {"code": 4003, "reason": "kicked"}))
	check_equal(session.last_goodbye, {"code": 4003, "reason": "kicked"}, "GOODBYE is kept")
	var lobby := session.room("lobby")
	var leave := lobby.leave()
	session.receive(relay.result(leave.id, P.Status.OK, 4))
	session.receive(relay.record(P.LEFT, {"room": 4, "reason": 0}))
	check(leave.is_ok() and session.room("lobby") == null and lobby.handle == 0, "left")
	check_equal(_names(), ["goodbye_received", "request_answered", "room_left"], "leaving")
	# A bare session has no other connection: a join answered ELSEWHERE completes with it.
	var attic := session.join("attic")
	relay.sent(session)
	session.receive(relay.result(attic.id, P.Status.ELSEWHERE, 1))
	check(attic.status == P.Status.ELSEWHERE and attic.value == 1, "ELSEWHERE: %s" % attic)
	check(session.room("attic") == null, "no room for a join answered ELSEWHERE")


func _message_size() -> void:
	var room_join := session.join("big")
	relay.sent(session)
	session.receive(relay.result(room_join.id, P.Status.OK, 6))
	session.receive(relay.snapshot(6, "big", [9], [[1, 9, 9, 1, PackedByteArray()]]))
	var big := PackedByteArray()
	big.resize(16000)
	for i in 10:
		session.room("big").update(1, big)
	var messages := session.take_outgoing()
	var sizes := messages.map(func(m: PackedByteArray) -> int: return m.size())
	check(
		messages.size() == 3 and sizes.max() <= 65535,
		"updates packed in messages <= 64 KiB: %s" % [sizes]
	)
