extends Node
## Talks binary WebSocket messages with a test server, as the client addon's transport will.
##
## User arguments: url=<ws://...>, protocol=<subprotocol>, a=<u32>, b=<s64>, c=<f64>, text=<utf-8>.
## 1. sends HELLO: u8 1, u32 a, s64 b, f64 c, u16 length, text (all little-endian)
## 2. expects PAYLOAD: u8 2, u32 x, s64 y, f64 z, then any number of bytes (the blob)
## 3. sends ECHO: u8 3, u32 x, s64 y, f64 z, blob, each decoded and encoded again
## 4. quits 0 once the server closes with code 1000; any other outcome quits non-zero.

const HELLO := 1
const PAYLOAD := 2
const ECHO := 3
const FIXED_SIZE := 21
const BUFFER_SIZE := 1 << 20

var _socket := WebSocketPeer.new()
var _options := {}
var _hello_sent := false
var _echoed := false
var _finished := false


func _ready() -> void:
	for arg in OS.get_cmdline_user_args():
		var split: int = arg.find("=")
		if split > 0:
			_options[arg.substr(0, split)] = arg.substr(split + 1)
	for key in ["url", "protocol", "a", "b", "c", "text"]:
		if not _options.has(key):
			_quit(2, "missing argument %s" % key)
			return
	# Web exports ignore handshake headers; the test server checks this one never arrives.
	_socket.handshake_headers = PackedStringArray(["X-Soiree-Test: sent"])
	_socket.supported_protocols = PackedStringArray([_options["protocol"]])
	_socket.inbound_buffer_size = BUFFER_SIZE
	_socket.outbound_buffer_size = BUFFER_SIZE
	var error := _socket.connect_to_url(_options["url"])
	if error != OK:
		_quit(2, "connect_to_url failed: %s" % error_string(error))


func _process(_delta: float) -> void:
	if _finished:
		return
	_socket.poll()
	match _socket.get_ready_state():
		WebSocketPeer.STATE_OPEN:
			if _socket.get_selected_protocol() != _options["protocol"]:
				_quit(4, "server chose protocol %s" % _socket.get_selected_protocol())
				return
			_say_hello()
			while _socket.get_available_packet_count() > 0 and not _finished:
				_receive(_socket.get_packet(), _socket.was_string_packet())
		WebSocketPeer.STATE_CLOSED:
			var code := _socket.get_close_code()
			print("closed code=%d reason=%s" % [code, _socket.get_close_reason()])
			_quit(0 if _echoed and code == 1000 else 3, "connection closed")


func _say_hello() -> void:
	if _hello_sent:
		return
	_hello_sent = true
	var text: PackedByteArray = _options["text"].to_utf8_buffer()
	var message := PackedByteArray()
	message.resize(FIXED_SIZE + 2)
	message.encode_u8(0, HELLO)
	message.encode_u32(1, int(_options["a"]))
	message.encode_s64(5, int(_options["b"]))
	message.encode_double(13, float(_options["c"]))
	message.encode_u16(FIXED_SIZE, text.size())
	message.append_array(text)
	_send(message)


func _receive(packet: PackedByteArray, is_text: bool) -> void:
	if is_text or packet.size() < FIXED_SIZE or packet.decode_u8(0) != PAYLOAD:
		_quit(4, "unexpected message of %d bytes (text: %s)" % [packet.size(), is_text])
		return
	var x := packet.decode_u32(1)
	var y := packet.decode_s64(5)
	var z := packet.decode_double(13)
	var blob := packet.slice(FIXED_SIZE)
	print("payload x=%d y=%d z=%s blob=%d bytes" % [x, y, z, blob.size()])
	var reply := PackedByteArray()
	reply.resize(FIXED_SIZE)
	reply.encode_u8(0, ECHO)
	reply.encode_u32(1, x)
	reply.encode_s64(5, y)
	reply.encode_double(13, z)
	reply.append_array(blob)
	_send(reply)
	_echoed = true


func _send(message: PackedByteArray) -> void:
	var error := _socket.send(message, WebSocketPeer.WRITE_MODE_BINARY)
	if error != OK:
		_quit(5, "send failed: %s" % error_string(error))


func _quit(code: int, why: String) -> void:
	_finished = true
	print("quit %d: %s" % [code, why])
	get_tree().quit(code)
