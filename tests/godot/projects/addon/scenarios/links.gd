extends "res://scenario.gd"
## SoireeLink: what a player may paste, and what the client makes of it.

const Link := preload("res://addons/soiree/link.gd")

# [pasted text, kind, relay URL, URL on the web, URL on desktop, desktop headers, API URL, room,
#  the profile's URL on the web, on desktop]
const GOOD := [
	[
		"https://api-0123abcd.sandstorm.example#tok_EN-1",
		Link.Kind.SANDSTORM,
		"wss://api-0123abcd.sandstorm.example/relay",
		"wss://api-0123abcd.sandstorm.example/.sandstorm-token/tok_EN-1/relay",
		"wss://api-0123abcd.sandstorm.example/relay",
		["Authorization: Bearer tok_EN-1"],
		"https://api-0123abcd.sandstorm.example",
		"",
		"https://api-0123abcd.sandstorm.example/.sandstorm-token/tok_EN-1/api/v1/profile",
		"https://api-0123abcd.sandstorm.example/api/v1/profile",
	],
	[
		"  http://api-5.local.sandstorm.io:6090/#abc \n",
		Link.Kind.SANDSTORM,
		"ws://api-5.local.sandstorm.io:6090/relay",
		"ws://api-5.local.sandstorm.io:6090/.sandstorm-token/abc/relay",
		"ws://api-5.local.sandstorm.io:6090/relay",
		["Authorization: Bearer abc"],
		"http://api-5.local.sandstorm.io:6090",
		"",
		"http://api-5.local.sandstorm.io:6090/.sandstorm-token/abc/api/v1/profile",
		"http://api-5.local.sandstorm.io:6090/api/v1/profile",
	],
	[
		"ws://127.0.0.1:9000/relay?ticket=abc&room=garden",
		Link.Kind.RELAY,
		"ws://127.0.0.1:9000/relay?ticket=abc",
		"ws://127.0.0.1:9000/relay?ticket=abc",
		"ws://127.0.0.1:9000/relay?ticket=abc",
		[],
		"",
		"garden",
		"",
		"",
	],
	[
		"WSS://party.example",
		Link.Kind.RELAY,
		"wss://party.example/relay",
		"wss://party.example/relay",
		"wss://party.example/relay",
		[],
		"",
		"",
		"",
		"",
	],
	[
		"ws://[::1]:8002/relay",
		Link.Kind.RELAY,
		"ws://[::1]:8002/relay",
		"ws://[::1]:8002/relay",
		"ws://[::1]:8002/relay",
		[],
		"",
		"",
		"",
		"",
	],
]

# [pasted text, words the error must contain]
const BAD := [
	["", "Paste the link"],
	["   \n", "Paste the link"],
	["hello world", "not a link"],
	["api-1.example#token", "not a link"],
	["ftp://files.example/x", "starts with https://"],
	["https://example.com/some/page", "not a party link"],
	["https://api-x.example#", "nothing after the #"],
	["https://party.example/invite/", "no code"],
	["ws://:8000/relay", "no host"],
	["ws://party.example:99999/relay", "port"],
	["ws://party.example:80x/relay", "port"],
	["ws://party.example/relay#x", "no # part"],
	["https://someone@api-1.example#tok", "no host"],
]


func run() -> int:
	for case: Array in GOOD:
		_check_good(case)
	for case: Array in BAD:
		var link := Link.parse(case[0])
		var what := "parsing %s" % var_to_str(case[0])
		check(not link.is_valid() and link.kind == Link.Kind.INVALID, "%s: accepted" % what)
		check(case[1] in link.error, "%s: error %s lacks %s" % [what, link.error, case[1]])
	_check_invites()
	print("links: %d good, %d bad" % [GOOD.size(), BAD.size()])
	return finish()


func _check_good(case: Array) -> void:
	var link := Link.parse(case[0])
	var what := "parsing %s" % var_to_str(case[0])
	if not check(link.is_valid(), "%s: %s" % [what, link.error]):
		return
	check_equal(link.kind, case[1], what + " kind")
	check_equal(link.relay_url, case[2], what + " relay URL")
	check_equal(link.connect_url("", true), case[3], what + " web URL")
	check_equal(link.handshake_headers(true), PackedStringArray(), what + " web headers")
	check_equal(link.connect_url("", false), case[4], what + " desktop URL")
	check_equal(link.handshake_headers(false), PackedStringArray(case[5]), what + " headers")
	check_equal(link.api_url, case[6], what + " API URL")
	check_equal(link.room, case[7], what + " room")
	check_equal(link.api_endpoint("/api/v1/profile", true), case[8], what + " web profile URL")
	check_equal(link.api_endpoint("/api/v1/profile", false), case[9], what + " desktop profile URL")
	check_equal(link.connect_url("", true), link.connect_url(), what + " default here is web")


func _check_invites() -> void:
	var link := Link.parse("http://127.0.0.1:8000/invite/AbC-_12")
	check_equal(link.kind, Link.Kind.INVITE, "an invite link")
	check_equal(link.invite_code, "AbC-_12", "its code")
	check_equal(link.api_url, "http://127.0.0.1:8000", "its API")
	check_equal(link.relay_url, "", "no relay before a ticket names it")
	for in_path in [true, false]:  # an invite's session token is a header, never in the path
		check_equal(
			link.api_endpoint("/api/v1/profile", in_path),
			"http://127.0.0.1:8000/api/v1/profile",
			"its profile URL"
		)
	check_equal(link.with_relay("/relay"), "ws://127.0.0.1:8000/relay", "a root-relative relay")
	check_equal(link.with_relay("ws://10.0.0.2:8002/relay"), "ws://10.0.0.2:8002/relay", "absolute")
	check_equal(
		link.with_relay("https://party.example/relay"), "wss://party.example/relay", "https"
	)
	check_equal(link.with_relay("nonsense"), "ws://127.0.0.1:8000/relay", "unusable: the default")
	check_equal(
		link.connect_url("v1.abc-DEF_0.xyz", false),
		"ws://127.0.0.1:8000/relay?ticket=v1.abc-DEF_0.xyz",
		"the ticket in the query"
	)
	check_equal(
		link.connect_url("a b+c", false), "ws://127.0.0.1:8000/relay?ticket=a%20b%2Bc", "encoded"
	)
	var secure := Link.parse("https://party.example/invite/xyz/")
	check_equal(secure.invite_code, "xyz", "a trailing slash")
	check_equal(secure.with_relay("/relay"), "wss://party.example/relay", "https gives wss")
	var with_ticket := Link.parse("ws://h:1/relay?token=t")
	check_equal(
		with_ticket.connect_url("k", false), "ws://h:1/relay?token=t&ticket=k", "query kept"
	)
