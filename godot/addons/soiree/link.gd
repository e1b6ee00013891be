class_name SoireeLink
extends RefCounted
## What a player pastes to join a party, understood. Three kinds of link:
##
## - a Sandstorm webkey, `https://api-<id>.<host>#<token>`: the grain's API host and a token. The
##   relay is at `/relay` on that host, the party's API at `/api/v1/...`; the token goes in an
##   `Authorization: Bearer` header, or in the path (`/.sandstorm-token/<token>/relay`) where
##   headers cannot be sent (web exports).
## - a standalone invite, `http(s)://<host>[:port]/invite/<code>`: redeemed at the party's API
##   for a session, which then gives a relay ticket (and the relay's URL) before each connection.
## - a relay URL, `ws(s)://<host>[:port]/relay`, used as it is (a `?ticket=` or `?token=` in it
##   is kept; a `?room=<name>` names the room to join and is taken out).
##
## A party may run several relay processes: process 0 at `/relay`, process `i` at `/relay/<i>`
## (PROTOCOL.md §4.1). `for_process(i)` is the same link (the same credentials) to process `i`.
##
## `SoireeLink.parse(text)` never fails: a link it cannot use has `kind == INVALID` and an
## `error` written for the player.

enum Kind { INVALID, SANDSTORM, INVITE, RELAY }

const RELAY_PATH := "/relay"

var kind := Kind.INVALID
## Why the text is not a usable link, for the player; "" when it is.
var error := ""
## The relay's URL without credentials. For invites it comes with each ticket (see with_relay).
var relay_url := ""
## The party's HTTP base (scheme://host[:port]) for the API (`/api/v1/...`); "" for relay URLs.
var api_url := ""
## The Sandstorm API token (webkeys only).
var token := ""
## The invite code (invites only).
var invite_code := ""
## A room named by the link (`?room=`), else "".
var room := ""
## The relay process the link leads to: 0 at `/relay`, `i` at `/relay/<i>`.
var process := 0


## Understands a pasted link; surrounding spaces and line breaks are ignored.
static func parse(text: String) -> SoireeLink:
	var link := SoireeLink.new()
	var url := Url.split(text.strip_edges())
	if not url.error.is_empty():
		link.error = url.error
	elif url.scheme == "ws" or url.scheme == "wss":
		link._from_relay_url(url)
	elif url.scheme == "http" or url.scheme == "https":
		link._from_web_url(url)
	else:
		link.error = "A party link starts with https://, http://, wss:// or ws://."
	if not link.error.is_empty():
		link.kind = Kind.INVALID
	return link


func is_valid() -> bool:
	return kind != Kind.INVALID


## The URL to open the WebSocket with. `ticket`: a fresh relay ticket (invites). With
## `token_in_path` (the default on web exports, which cannot send headers) a Sandstorm token
## goes in the path; otherwise it goes in the header from `handshake_headers()`.
func connect_url(ticket := "", token_in_path := OS.has_feature("web")) -> String:
	var url := relay_url
	if kind == Kind.SANDSTORM and token_in_path:
		# The token's segment comes first; the relay's path (`/relay/<i>` too) after it.
		var parts := Url.split(relay_url)
		url = (
			"%s://%s/.sandstorm-token/%s%s"
			% [parts.scheme, parts.authority, token.uri_encode(), parts.path_and_query()]
		)
	if not ticket.is_empty():
		url += ("&" if "?" in url else "?") + "ticket=" + ticket.uri_encode()
	return url


## The handshake headers for connect_url() with the same `token_in_path`; also the headers of
## a request to api_endpoint().
func handshake_headers(token_in_path := OS.has_feature("web")) -> PackedStringArray:
	if kind == Kind.SANDSTORM and not token_in_path:
		return PackedStringArray(["Authorization: Bearer " + token])
	return PackedStringArray()


## The URL of a path of the party's API (`/api/v1/profile`), "" for relay URLs. A Sandstorm token
## goes in the path with `token_in_path`, else in the header from `handshake_headers()`; invites
## sign requests with their session's token instead.
func api_endpoint(path: String, token_in_path := OS.has_feature("web")) -> String:
	if api_url.is_empty():
		return ""
	if kind == Kind.SANDSTORM and token_in_path:
		return "%s/.sandstorm-token/%s%s" % [api_url, token.uri_encode(), path]
	return api_url + path


## The relay URL a ticket answer names: absolute ws(s)://, http(s):// or root-relative ("/relay",
## as a grain's API answers), resolved against the party's address; on a link to another relay
## process (for_process), that process's path in it.
func with_relay(url_from_api: String) -> String:
	var base := Url.split(api_url)
	var secure := base.scheme == "https"
	var given := Url.split(url_from_api)
	if url_from_api.begins_with("/"):
		relay_url = "%s://%s%s" % ["wss" if secure else "ws", base.authority, url_from_api]
	elif given.error.is_empty() and given.scheme in ["ws", "wss", "http", "https"]:
		var ws_scheme := "wss" if given.scheme in ["wss", "https"] else "ws"
		relay_url = "%s://%s%s" % [ws_scheme, given.authority, given.path_and_query()]
	else:
		relay_url = "%s://%s%s" % ["wss" if secure else "ws", base.authority, RELAY_PATH]
	var there := _at_process(relay_url, process) if process != 0 else ""
	if not there.is_empty():
		relay_url = there
	return relay_url


## The same link to relay process `index` of the same party (same credentials, relay path
## `/relay/<index>`, `/relay` for 0); null when the relay URL's path is not a relay's path
## (`/relay` or `/relay/<i>`), so the link cannot name the party's other processes.
func for_process(index: int) -> SoireeLink:
	var there := SoireeLink.new()
	there.kind = kind
	there.api_url = api_url
	there.token = token
	there.invite_code = invite_code
	there.process = index
	there.relay_url = relay_url
	if not relay_url.is_empty():
		there.relay_url = _at_process(relay_url, index)
		if there.relay_url.is_empty():
			return null
	return there


## The path of relay process `index` (`/relay`, `/relay/<i>`) in place of the relay path that
## ends `path`; "" when `path` ends in neither.
static func process_path(path: String, index: int) -> String:
	var parts := Array(path.split("/", false))
	var last := "" if parts.is_empty() else str(parts[-1])
	if (
		parts.size() >= 2
		and last.is_valid_int()
		and str(int(last)) == last
		and parts[-2] == "relay"
	):
		parts.pop_back()
	if parts.is_empty() or parts[-1] != RELAY_PATH.substr(1):
		return ""
	if index != 0:
		parts.append(str(index))
	return "/" + "/".join(parts)


# `url` (a relay URL with its query) leading to process `index`; "" if its path is not a relay's.
static func _at_process(url: String, index: int) -> String:
	var parts := Url.split(url)
	var path := process_path(parts.path, index)
	if path.is_empty():
		return ""
	parts.path = path
	return "%s://%s%s" % [parts.scheme, parts.authority, parts.path_and_query()]


func _to_string() -> String:
	if kind == Kind.INVALID:
		return "invalid link: " + error
	# Without the query: it may hold a ticket or a token.
	var where := relay_url.get_slice("?", 0) if not relay_url.is_empty() else api_url
	return "%s link to %s" % [Kind.keys()[kind].to_lower(), where]


func _from_relay_url(url: Url) -> void:
	if not url.fragment.is_empty():
		error = "A relay address (ws:// or wss://) has no # part; check the link."
		return
	var kept := PackedStringArray()
	for pair in url.query.split("&", false):
		if pair.begins_with("room="):
			room = pair.substr(5).uri_decode()
		else:
			kept.append(pair)
	var path := url.path if url.path not in ["", "/"] else RELAY_PATH
	var process_at := process_path(path, 0)
	if not process_at.is_empty() and process_at != path:
		process = int(path.get_slice("/", path.get_slice_count("/") - 1))
	relay_url = "%s://%s%s" % [url.scheme, url.authority, path]
	if not kept.is_empty():
		relay_url += "?" + "&".join(kept)
	kind = Kind.RELAY


func _from_web_url(url: Url) -> void:
	var ws_scheme := "wss" if url.scheme == "https" else "ws"
	api_url = "%s://%s" % [url.scheme, url.authority]
	var parts := url.path.split("/", false)
	if url.has_fragment and url.path in ["", "/"]:
		if url.fragment.is_empty():
			error = "This Sandstorm key has nothing after the #: copy the whole key."
			return
		token = url.fragment.uri_decode()
		relay_url = "%s://%s%s" % [ws_scheme, url.authority, RELAY_PATH]
		kind = Kind.SANDSTORM
	elif parts.size() == 2 and parts[0] == "invite":
		invite_code = parts[1].uri_decode()
		kind = Kind.INVITE
	elif parts.size() == 1 and parts[0] == "invite":
		error = "This invite link has no code after /invite/: copy the whole link."
	else:
		error = (
			"This web address is not a party link. Paste the link the host gave you: "
			+ "a Sandstorm key (ending in #...) or an invite link (with /invite/ in it)."
		)


## A URL cut into its parts, as far as links to a party need.
class Url:
	var scheme := ""
	var authority := ""  # host[:port]
	var path := ""
	var query := ""
	var fragment := ""
	var has_fragment := false
	var error := ""

	static func split(text: String) -> Url:
		var url := Url.new()
		var rest := text
		var mark := rest.find("://")
		if text.is_empty():
			url.error = "Paste the link the host gave you."
		elif mark <= 0 or " " in text:
			url.error = "That is not a link. A party link starts with https://, http:// or wss://."
		else:
			url.scheme = rest.substr(0, mark).to_lower()
			rest = rest.substr(mark + 3)
			url._split_rest(rest)
		return url

	func path_and_query() -> String:
		return path + ("?" + query if not query.is_empty() else "")

	func _split_rest(rest: String) -> void:
		var hash_at := rest.find("#")
		if hash_at >= 0:
			has_fragment = true
			fragment = rest.substr(hash_at + 1)
			rest = rest.substr(0, hash_at)
		var query_at := rest.find("?")
		if query_at >= 0:
			query = rest.substr(query_at + 1)
			rest = rest.substr(0, query_at)
		var path_at := rest.find("/")
		authority = rest if path_at < 0 else rest.substr(0, path_at)
		path = "" if path_at < 0 else rest.substr(path_at)
		var host := authority
		var port := ""
		var colon := authority.rfind(":")
		if colon >= 0 and colon > authority.rfind("]"):
			host = authority.substr(0, colon)
			port = authority.substr(colon + 1)
		if host.is_empty() or "@" in authority:
			error = "The link has no host name; copy the whole link."
		elif colon >= 0 and not (port.is_valid_int() and int(port) > 0 and int(port) < 65536):
			error = "The port number in the link (after the :) is not valid."
