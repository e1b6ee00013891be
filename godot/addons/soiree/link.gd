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
		var base := relay_url.substr(0, relay_url.length() - RELAY_PATH.length())
		url = "%s/.sandstorm-token/%s%s" % [base, token.uri_encode(), RELAY_PATH]
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
## as a grain's API answers), resolved against the party's address.
func with_relay(url_from_api: String) -> String:
	var base := Url.split(api_url)
	var secure := base.scheme == "https"
	if url_from_api.begins_with("/"):
		relay_url = "%s://%s%s" % ["wss" if secure else "ws", base.authority, url_from_api]
		return relay_url
	var given := Url.split(url_from_api)
	if given.error.is_empty() and given.scheme in ["ws", "wss", "http", "https"]:
		var ws_scheme := "wss" if given.scheme in ["wss", "https"] else "ws"
		relay_url = "%s://%s%s" % [ws_scheme, given.authority, given.path_and_query()]
	else:
		relay_url = "%s://%s%s" % ["wss" if secure else "ws", base.authority, RELAY_PATH]
	return relay_url


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
