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
	_check_processes()
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


# The same link to another relay process of the party: `/relay/<i>`, credentials kept, a
# Sandstorm token in the path before it.
func _check_processes() -> void:
	var key := Link.parse("https://api-0123abcd.sandstorm.example#tok_EN-1")
	var one := key.for_process(1)
	check_equal(one.kind, Link.Kind.SANDSTORM, "a webkey to process 1: still a webkey")
	check_equal(one.process, 1, "its process")
	check_equal(one.relay_url, "wss://api-0123abcd.sandstorm.example/relay/1", "its relay URL")
	check_equal(
		one.connect_url("", true),
		"wss://api-0123abcd.sandstorm.example/.sandstorm-token/tok_EN-1/relay/1",
		"the token in the path, the process after it"
	)
	check_equal(
		one.connect_url("", false), "wss://api-0123abcd.sandstorm.example/relay/1", "desktop"
	)
	check_equal(
		one.handshake_headers(false),
		PackedStringArray(["Authorization: Bearer tok_EN-1"]),
		"desktop: the token in the header"
	)
	check_equal(
		one.for_process(0).connect_url("", true),
		"wss://api-0123abcd.sandstorm.example/.sandstorm-token/tok_EN-1/relay",
		"back to process 0"
	)
	var relay := Link.parse("ws://127.0.0.1:9000/relay?ticket=abc&room=garden")
	check_equal(relay.process, 0, "a relay URL at /relay: process 0")
	check_equal(
		relay.for_process(2).connect_url("", false),
		"ws://127.0.0.1:9000/relay/2?ticket=abc",
		"a relay URL to process 2: its ticket kept, its room not"
	)
	var listed := Link.parse("ws://h:1/relay/1?ticket=t&room=attic")
	check_equal(listed.process, 1, "a shard list's room URL names its process")
	check_equal(listed.relay_url, "ws://h:1/relay/1?ticket=t", "and keeps its path")
	check_equal(listed.for_process(0).relay_url, "ws://h:1/relay?ticket=t", "its process 0")
	check_equal(listed.for_process(3).relay_url, "ws://h:1/relay/3?ticket=t", "its process 3")
	check_equal(
		Link.parse("wss://party.example/games/relay").for_process(1).relay_url,
		"wss://party.example/games/relay/1",
		"a relay behind a path prefix"
	)
	check(Link.parse("ws://h:1/custom").for_process(1) == null, "a path that is no relay's")
	check_equal(Link.process_path("/relay/01", 1), "", "/relay/01 is not a process path")
	check_equal(Link.process_path("/relay/", 2), "/relay/2", "a trailing slash")
	var invite := Link.parse("http://127.0.0.1:8000/invite/AbC-_12").for_process(1)
	check_equal(invite.kind, Link.Kind.INVITE, "an invite to process 1")
	check_equal(invite.invite_code, "AbC-_12", "its code")
	check_equal(invite.with_relay("/relay"), "ws://127.0.0.1:8000/relay/1", "the API's relay")
	check_equal(
		invite.with_relay("ws://10.0.0.2:8002/relay"), "ws://10.0.0.2:8002/relay/1", "absolute"
	)
	check_equal(
		invite.connect_url("k", false), "ws://10.0.0.2:8002/relay/1?ticket=k", "with its ticket"
	)
