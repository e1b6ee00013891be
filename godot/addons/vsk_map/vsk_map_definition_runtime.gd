extends Node3D
## Stands in for V-Sekai's map definition script, which the party's default map names by path on
## its root (uro-shim/COMPATIBILITY.md, "The default map"). Only the path matters: without a
## script here, Godot still loads the map but logs "Failed loading resource" for it.
