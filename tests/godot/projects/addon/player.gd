extends Node2D
## A player of the multiplayer scenarios, the way Godot 4 games write one: named after its
## peer id, driven by that peer (its authority), its position carried by a
## MultiplayerSynchronizer (sent every frame, unreliable, and in the spawn). RPCs record who
## called them.

## [method, sender (get_remote_sender_id), argument], in the order received.
var calls: Array = []


## A player for the peer `id`, as a MultiplayerSpawner's spawn_function makes it (its data: the
## id). The authority is set before the node enters the tree, as Godot asks.
static func make(id: int) -> Node2D:
	var player: Node2D = load("res://player.gd").new()
	player.name = str(id)
	var sync := MultiplayerSynchronizer.new()
	sync.name = "Sync"
	var config := SceneReplicationConfig.new()
	config.add_property(NodePath(".:position"))
	config.property_set_spawn(NodePath(".:position"), true)
	config.property_set_replication_mode(
		NodePath(".:position"), SceneReplicationConfig.REPLICATION_MODE_ALWAYS
	)
	sync.replication_config = config
	sync.root_path = NodePath("..")
	player.add_child(sync)
	player.set_multiplayer_authority(id, true)
	return player


@rpc("any_peer", "call_remote", "reliable")
func hello(argument: Variant) -> void:
	calls.append(["hello", multiplayer.get_remote_sender_id(), argument])


@rpc("authority", "call_remote", "reliable")
func from_authority(argument: Variant) -> void:
	calls.append(["from_authority", multiplayer.get_remote_sender_id(), argument])
