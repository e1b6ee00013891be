extends Node
## A node of the multiplayer tests: RPCs of every kind that record who called them, and a
## value a MultiplayerSynchronizer can carry.

## [method, sender (get_remote_sender_id), argument], in the order received.
var calls: Array = []
## The party's name for each hello's sender, asked of the peer while the call runs.
var callers: Array[String] = []
var value := 0
## Bytes a synchronizer may carry along with `value` (to make its state large).
var blob := PackedByteArray()

@rpc("any_peer", "call_remote", "reliable")
func hello(argument: Variant) -> void:
	calls.append(["hello", multiplayer.get_remote_sender_id(), argument])
	var peer := multiplayer.multiplayer_peer as SoireeMultiplayerPeer
	if peer != null:
		callers.append(peer.peer_name(multiplayer.get_remote_sender_id()))


@rpc("authority", "call_remote", "reliable")
func from_authority(argument: Variant) -> void:
	calls.append(["from_authority", multiplayer.get_remote_sender_id(), argument])


@rpc("any_peer", "call_remote", "unreliable")
func shout(argument: Variant) -> void:
	calls.append(["shout", multiplayer.get_remote_sender_id(), argument])


func names() -> Array:
	return calls.map(func(call: Array) -> String: return call[0])
