class_name SoireeClient
extends SoireeSession
## One connection to a Soirée party: a SoireeSession over a WebSocket, opened from a pasted link.
##
##     var party := SoireeClient.new()
##     add_child(party)                      # it polls its socket in _process
##     party.open("https://api-1a2b.example.org#token")
##     await party.welcomed
##     var joined := await party.join("lobby").completed
##
## It authenticates as the link says (SoireeLink), answers the relay's pings, pings the relay for
## the clock, and when the connection drops it reconnects with backoff and resumes the session
## (same member id, rooms and objects) within the relay's grace window. Several clients may run
## at once, one per party (portals).
##
## A party may run several relay processes, each room on one of them (PROTOCOL.md §4.1). A join
## of a room another process holds goes on over a connection to that process, opened with the
## same link (and, for invites, a ticket of its own) the first time it is needed and kept for
## its other rooms: a child SoireeClient (room_elsewhere). Its rooms are this client's rooms
## (`join`, `room`, `joined_rooms`, the room signals), though there this player is another
## member: `room.me()` says which. close() and reconnect() apply to every connection; the
## connection signals (connection_state_changed, connection_failed, disconnected, welcomed) are
## this connection's own.

## IDLE, AUTHORIZING (setting the player's name, redeeming an invite, fetching a ticket),
## CONNECTING, CONNECTED (welcomed), RETRYING (waiting before the next attempt) or CLOSED.
signal connection_state_changed(state: int)
## The client gave up: a bad link, a refused invite, the host removed this player, or too many
## failed attempts. `message` is written for the player.
signal connection_failed(message: String)
## The WebSocket closed (`code` -1: it never opened, or the relay refused the upgrade). A
## reconnection follows unless the state becomes CLOSED.
signal disconnected(code: int, reason: String)
## A join went on to another relay process of the party, over `connection` (a SoireeClient under
## this one): that room's records and requests travel there.
signal room_elsewhere(room_name: String, connection: SoireeClient)

enum ConnectionState { IDLE, AUTHORIZING, CONNECTING, CONNECTED, RETRYING, CLOSED }

const Link := preload("res://addons/soiree/link.gd")
## A normal close ends the session at once (the relay makes the member leave every room).
const CLOSE_NORMAL := 1000
## This client drops a connection to resume the session on a new one.
const CLOSE_DROP := 4100
## The relay sent something this client could not read.
const CLOSE_UNREADABLE := 4101
## After these reconnecting cannot help (PROTOCOL.md §11): no common version, no HELLO, kicked,
## the session was resumed elsewhere.
const FINAL_CODES := [4001, 4002, 4003, 4006]
## Relay messages are at most 64 KiB but several may arrive in one frame (snapshots).
const BUFFER_SIZE := 1 << 20
## Where the party's API keeps the player's name (uro-shim/COMPATIBILITY.md).
const PROFILE_PATH := "/api/v1/profile"
## The session's signals that are about one connection, not a room: not passed on from the
## connections to other relay processes.
const CONNECTION_SIGNALS := ["welcomed", "goodbye_received", "request_answered"]
## Marks a join this client sent on to another connection: its answer is the original's.
const FORWARDED := &"soiree_forwarded"
const SESSION_SCRIPT: Script = preload("res://addons/soiree/session.gd")

## The name the other players (and the host's dashboard) see; "" keeps the one the party has.
## Sandstorm webkeys: set on the player's account before connecting, because Sandstorm gives
## keys made for sharing no name ("Anonymous User"). Invite links: given when the invite is
## redeemed, which names the account. Relay URLs: not used (the ticket or token names the player).
@export var display_name := ""
## Failed connections in a row before giving up (connection_failed).
@export var max_attempts := 8
## Seconds a connection may take from opening to the relay's WELCOME.
@export var connect_timeout := 15.0
## Whether a connection that drops after the WELCOME is opened again to resume the session.
## Off, such a drop ends the session (connection_failed, state CLOSED): SoireeMultiplayerPeer
## turns it off, since Godot's packets lost with the connection could not be recovered.
@export var reconnect_when_dropped := true

## Seconds to wait before each reconnection attempt (the last one repeats), randomised by up to
## a quarter so that a party's clients do not all come back at the same instant.
var retry_delays: Array[float] = [0.2, 0.5, 1.0, 2.0, 4.0, 8.0]
## Put a Sandstorm token in the URL path instead of a header (web exports cannot send headers).
var token_in_path := OS.has_feature("web")
## The link this client was opened with.
var link: SoireeLink
var connection_state := ConnectionState.IDLE
## Why the client last failed, for the player.
var last_error := ""

var _socket: WebSocketPeer
var _leaving: WebSocketPeer  # closed by close(), polled until the close handshake is over
var _leaving_until_ms := 0
var _closing := false  # close() was called: the socket closes for good
var _was_open := false
var _attempt := 0
var _generation := 0  # bumped by open() and close(): an outdated coroutine stops there
var _retry_at_ms := 0
var _last_heard_ms := 0
var _next_ping_ms := 0
var _connect_deadline_ms := 0
var _access_token := ""
var _invite_refused := false
var _name_settled := false  # display_name is on the account, or the party refused it
var _elsewhere := {}  # relay process -> SoireeClient: connections to the party's other processes
var _home: SoireeClient  # on such a connection: the client that opened it


## Starts connecting to the party a pasted link names. Returns "" or, for a link that cannot be
## used, what is wrong with it (also reported by connection_failed). A room the link names
## (`?room=` in a relay URL) is in `link.room`, for the game to join.
func open(link_text: String) -> String:
	if connection_state not in [ConnectionState.IDLE, ConnectionState.CLOSED]:
		return "This connection is already open: close() it first."
	_let_go_of_elsewhere()
	var parsed := Link.parse(link_text)
	if not parsed.is_valid():
		link = parsed
		_fail(parsed.error)
		return parsed.error
	_open_link(parsed)
	return ""


func _open_link(parsed: SoireeLink) -> void:
	link = parsed
	_closing = false
	_attempt = 0
	_access_token = "" if _home == null else _home._access_token
	_invite_refused = false
	_name_settled = _home != null  # the first connection puts the name on the account
	_generation += 1
	_connect()


## Leaves the party: a normal close, so the relay ends the session at once and everyone sees
## this member leave. Rooms are reported by room_left.
func close() -> void:
	_generation += 1
	_closing = true
	if _socket != null and _socket.get_ready_state() != WebSocketPeer.STATE_CLOSED:
		_socket.close(CLOSE_NORMAL, "bye")
		# Polled until the close handshake is over: a close the relay never sees would keep the
		# player in the party for the grace window.
		_leaving = _socket
		_leaving_until_ms = Time.get_ticks_msec() + 3000
	_socket = null
	_was_open = false
	forget()
	_set_state(ConnectionState.CLOSED)
	_let_go_of_elsewhere()


## Drops the connection and resumes the session on a new one at once (same member id); so do
## the connections to the party's other relay processes.
func reconnect() -> void:
	if _socket != null:
		_drop(CLOSE_DROP, "reconnecting")
		_retry_at_ms = Time.get_ticks_msec()
	for other: SoireeClient in _elsewhere.values():
		other.reconnect()


## A room this client is in, by name, on whichever connection (relay process) holds it.
func room(room_name: String) -> SoireeRoom:
	var found: SoireeRoom = super(room_name)
	for other: SoireeClient in _elsewhere.values():
		if found == null:
			found = other.room(room_name)
	return found


## The rooms this client is in, on every connection.
func joined_rooms() -> Array[SoireeRoom]:
	var rooms: Array[SoireeRoom] = super()
	for other: SoireeClient in _elsewhere.values():
		rooms.append_array(other.joined_rooms())
	return rooms


## The connection a room is on: this client, or its connection to the relay process holding the
## room; null when not in the room.
func session_of(room_name: String) -> SoireeSession:
	if super.room(room_name) != null:
		return self
	for other: SoireeClient in _elsewhere.values():
		if other.room(room_name) != null:
			return other
	return null


func is_connected_to_party() -> bool:
	return connection_state == ConnectionState.CONNECTED


func _process(_delta: float) -> void:
	poll()


## Polls the socket: reads what the relay sent, sends what is queued, keeps the connection
## alive. Called every frame by _process; SoireeMultiplayerPeer also calls it from its own poll
## so that a frame's packets leave (and arrive) without waiting for the next frame.
func poll() -> void:
	if _leaving != null:
		_leaving.poll()
		var closed := _leaving.get_ready_state() == WebSocketPeer.STATE_CLOSED
		if closed or Time.get_ticks_msec() > _leaving_until_ms:
			_leaving = null
	if _socket == null:
		if connection_state == ConnectionState.RETRYING and Time.get_ticks_msec() >= _retry_at_ms:
			_connect()
		return
	_socket.poll()
	match _socket.get_ready_state():
		WebSocketPeer.STATE_OPEN:
			_on_open_frame()
		WebSocketPeer.STATE_CLOSED:
			_on_socket_closed(_socket.get_close_code(), _socket.get_close_reason())
	var waiting := connection_state == ConnectionState.CONNECTING
	if _socket != null and waiting and Time.get_ticks_msec() > _connect_deadline_ms:
		last_error = "The party at %s did not answer." % link.relay_url.get_slice("?", 0)
		_drop(CLOSE_DROP, "no answer")


func _on_open_frame() -> void:
	var now := Time.get_ticks_msec()
	if not _was_open:
		_was_open = true
		_last_heard_ms = now
		_next_ping_ms = now
		start()
	while _socket != null and _socket.get_available_packet_count() > 0:
		var packet := _socket.get_packet()
		_last_heard_ms = now
		var problem := "the relay sent a text message"
		if not _socket.was_string_packet():
			problem = receive(packet)
		if not problem.is_empty() and _socket != null:
			push_warning("Soirée: unreadable message from the relay: " + problem)
			_drop(CLOSE_UNREADABLE, problem.left(120))
	if _socket == null:
		return
	if is_welcomed():
		if connection_state != ConnectionState.CONNECTED:
			_attempt = 0
			_set_state(ConnectionState.CONNECTED)
		_keep_alive(now)
	for message in take_outgoing():
		_socket.send(message)


func _keep_alive(now: int) -> void:
	var idle_ms: int = limits.get("idle_timeout_ms", 60000)
	if now - _last_heard_ms > idle_ms:
		# A connection that went silent (half-open, a sleeping laptop): start a new one.
		_drop(CLOSE_DROP, "the relay went quiet")
		return
	if now >= _next_ping_ms:
		_next_ping_ms = now + int(limits.get("ping_interval_ms", 15000))
		send_ping()


func _connect() -> void:
	var generation := _generation
	_set_state(ConnectionState.AUTHORIZING)
	var url := link.connect_url("", token_in_path)
	if link.kind == Link.Kind.SANDSTORM and not _name_settled:
		var where := link.api_endpoint(PROFILE_PATH, token_in_path)
		await _put_display_name(where, link.handshake_headers(token_in_path))
		if generation != _generation:
			return
	if link.kind == Link.Kind.INVITE:
		url = await _invite_ticket_url()
		if generation != _generation:
			return
		if url.is_empty() and _invite_refused:
			_fail(last_error)  # a revoked or unknown invite will not start working
			return
		if url.is_empty():
			_attempt_failed()
			return
	_socket = WebSocketPeer.new()
	_socket.inbound_buffer_size = BUFFER_SIZE
	_socket.outbound_buffer_size = BUFFER_SIZE
	_socket.handshake_headers = link.handshake_headers(token_in_path)
	_was_open = false
	var error := _socket.connect_to_url(url)
	if error != OK:
		_socket = null
		last_error = (
			"Could not open a connection to %s (%s)." % [link.relay_url, error_string(error)]
		)
		_attempt_failed()
		return
	_connect_deadline_ms = Time.get_ticks_msec() + int(connect_timeout * 1000)
	_set_state(ConnectionState.CONNECTING)


## Drops the socket without waiting for the close handshake; a retry is scheduled.
func _drop(code: int, reason: String) -> void:
	_socket.close(code, reason)
	_flush_close()
	_on_socket_closed(code, reason)


# One more poll lets the close frame leave before the peer is let go.
func _flush_close() -> void:
	_socket.poll()


func _on_socket_closed(code: int, reason: String) -> void:
	var was_welcomed := is_welcomed()
	_socket = null
	_was_open = false
	connection_lost()
	disconnected.emit(code, reason)
	if _closing:
		return
	if code in FINAL_CODES:
		_fail(_final_message(code, reason))
		return
	if was_welcomed and not reconnect_when_dropped:
		_fail("The connection to the party dropped (%d: %s)." % [code, reason])
	elif was_welcomed:
		_schedule_retry(0)
	else:
		if code != CLOSE_DROP:  # a drop of ours has already said why
			last_error = _refusal_message(code, reason)
		_attempt_failed()


func _attempt_failed() -> void:
	_attempt += 1
	if _attempt >= max_attempts:
		_fail("%s (gave up after %d attempts)" % [last_error, _attempt])
		return
	_schedule_retry(_attempt)


func _schedule_retry(attempt: int) -> void:
	var delay: float = retry_delays[mini(attempt, retry_delays.size() - 1)]
	_retry_at_ms = Time.get_ticks_msec() + int(delay * randf_range(750.0, 1000.0))
	_set_state(ConnectionState.RETRYING)


func _fail(message: String) -> void:
	last_error = message
	_set_state(ConnectionState.CLOSED)
	forget()
	connection_failed.emit(message)


func _set_state(state: int) -> void:
	if state != connection_state:
		connection_state = state
		connection_state_changed.emit(state)


func _final_message(code: int, reason: String) -> String:
	match code:
		4001:
			return "This game and the party speak different protocol versions (%s)." % reason
		4003:
			return "The host removed you from the party."
		4006:
			return "This session goes on in another connection."
	return "The party closed the connection (%d: %s)." % [code, reason]


func _refusal_message(code: int, reason: String) -> String:
	if code == -1 or code == 1006:
		return (
			"Could not connect to the party at %s: it is not running, or the link is no longer valid."
			% link.relay_url
		)
	return "The party closed the connection (%d: %s)." % [code, reason]


# Puts display_name on the player's account. When the party does not answer, the player
# connects anyway (under the name the party has) and the name is tried again before the next
# connection; the relay takes a name when a session starts.
func _put_display_name(url: String, headers: PackedStringArray) -> void:
	var wanted := display_name.strip_edges()
	if wanted.is_empty():
		_name_settled = true
		return
	var all := Array(headers) + ["Content-Type: application/x-www-form-urlencoded"]
	var body := "display_name=" + wanted.uri_encode()
	var answer: Dictionary = await _request(HTTPClient.METHOD_PUT, url, body, all)
	var code: int = answer["code"]
	_name_settled = code != 0 and code < 500
	if code != 200:
		push_warning("Soirée: the name %s was not set: %s" % [wanted, answer["error"]])


# --- standalone parties: invite -> session -> ticket -----------------------------------------


# The URL with a fresh ticket, or "" (last_error says why). A ticket is valid for 60 s and
# for one connection, so one is fetched before every attempt.
func _invite_ticket_url() -> String:
	if _home != null and not _home._access_token.is_empty():
		_access_token = _home._access_token  # one sign-in for every connection
	if _access_token.is_empty() and not await _redeem_invite():
		return ""
	var answer: Dictionary = await _post("/api/v1/tickets", "", ["Authorization: " + _access_token])
	if answer["code"] == 401:
		# The session expired (they last 30 minutes): the invite signs in again.
		_access_token = ""
		if not await _redeem_invite():
			return ""
		answer = await _post("/api/v1/tickets", "", ["Authorization: " + _access_token])
	var data: Variant = answer["data"]
	if answer["code"] != 200 or not data is Dictionary or not data.get("ticket") is String:
		last_error = answer["error"]
		return ""
	link.with_relay(str(data.get("relay_url", "")))
	return link.connect_url(data["ticket"], token_in_path)


func _redeem_invite() -> bool:
	var body := "code=" + link.invite_code.uri_encode()
	if not display_name.is_empty():
		body += "&display_name=" + display_name.uri_encode()
	var headers := ["Content-Type: application/x-www-form-urlencoded"]
	var answer: Dictionary = await _post("/api/v1/invites/redeem", body, headers)
	var data: Variant = answer["data"]
	if answer["code"] == 200 and data is Dictionary and data.get("access_token") is String:
		_access_token = data["access_token"]
		if _home != null:
			_home._access_token = _access_token
		return true
	last_error = answer["error"]
	_invite_refused = answer["code"] in [403, 404]
	return false


func _post(path: String, body: String, headers: Array) -> Dictionary:
	return await _request(HTTPClient.METHOD_POST, link.api_url + path, body, headers)


# {"code": HTTP status (0: no answer), "data": the answer's "data" or null, "error": String}
func _request(method: int, url: String, body: String, headers: Array) -> Dictionary:
	var http := HTTPRequest.new()
	http.timeout = 15.0
	add_child(http)
	var error := http.request(url, PackedStringArray(headers), method, body)
	var answer := {"code": 0, "data": null, "error": ""}
	if error != OK:
		answer["error"] = (
			"Could not ask the party at %s (%s)." % [link.api_url, error_string(error)]
		)
		http.queue_free()
		return answer
	var reply: Array = await http.request_completed
	http.queue_free()
	if reply[0] != HTTPRequest.RESULT_SUCCESS:
		answer["error"] = "Could not reach the party at %s: is it running?" % link.api_url
		return answer
	answer["code"] = reply[1]
	# Not every answer is JSON (Sandstorm's own refusals are text): JSON.parse() stays quiet.
	var parser := JSON.new()
	var json: Variant = null
	if parser.parse(reply[3].get_string_from_utf8()) == OK:
		json = parser.data
	if json is Dictionary:
		answer["data"] = json.get("data")
	answer["error"] = _api_error(json, reply[1])
	return answer


static func _api_error(json: Variant, code: int) -> String:
	if code == 200:
		return ""
	var message := ""
	if json is Dictionary and json.get("error") is Dictionary:
		message = str(json["error"].get("message", ""))
	elif json is Dictionary:
		message = str(json.get("message", json.get("error", "")))
	if message.is_empty():
		message = "The party answered HTTP %d." % code
	return message


# --- the party's other relay processes ------------------------------------------------------


func _join_elsewhere(request: SoireeRequest, process: int) -> bool:
	if _home != null:
		return false  # the relay places rooms alike in every process: no second hop
	var other := _connection_to(process)
	if other == null:
		return false
	room_elsewhere.emit(request.room_name, other)
	_forward_join(request, other)
	return true


# The connection to relay process `process`, opened the first time it is needed (and again
# after it gave up); null when the link cannot name the party's other processes.
func _connection_to(process: int) -> SoireeClient:
	var there := link.for_process(process)
	if there == null:
		return null
	var other: SoireeClient = _elsewhere.get(process)
	if other == null:
		other = SoireeClient.new()
		other.name = "RelayProcess%d" % process
		other._home = self
		other.display_name = display_name
		other.max_attempts = max_attempts
		other.connect_timeout = connect_timeout
		other.reconnect_when_dropped = reconnect_when_dropped
		other.retry_delays = retry_delays
		other.token_in_path = token_in_path
		other.min_version = min_version
		other.max_version = max_version
		for sig: Dictionary in SESSION_SCRIPT.get_script_signal_list():
			if sig["name"] not in CONNECTION_SIGNALS:
				other.connect(sig["name"], Signal(self, sig["name"]).emit)
		other.request_answered.connect(_on_answered_elsewhere)
		_elsewhere[process] = other
		add_child(other)
	if other.connection_state in [ConnectionState.IDLE, ConnectionState.CLOSED]:
		other._open_link(there)
	return other


func _forward_join(request: SoireeRequest, other: SoireeClient) -> void:
	var there := other.join(request.room_name)
	there.set_meta(FORWARDED, true)
	there.completed.connect(_on_forwarded_join.bind(request, other), CONNECT_ONE_SHOT)


func _on_forwarded_join(there: SoireeRequest, request: SoireeRequest, other: SoireeClient) -> void:
	var open := not _closing and not other._closing
	if (
		there.status == Request.NO_ANSWER
		and open
		and other.connection_state != ConnectionState.CLOSED
	):
		_forward_join(request, other)  # that connection dropped and is coming back: ask again
		return
	var why := there.error
	if there.status == Request.NO_ANSWER and not other.last_error.is_empty():
		why = other.last_error
	_answer(request, there.status, there.value, why)


func _on_answered_elsewhere(request: SoireeRequest) -> void:
	if not request.has_meta(FORWARDED):
		request_answered.emit(request)


# Closes the connections to other relay processes (a normal close: their rooms are left, each
# reported by room_left) and lets them go once their close handshakes had time to finish.
func _let_go_of_elsewhere() -> void:
	var others := _elsewhere.values()
	_elsewhere.clear()
	for other: SoireeClient in others:
		other.close()
		if is_inside_tree():
			get_tree().create_timer(3.5).timeout.connect(other.queue_free)
		else:
			other.queue_free()
