extends Marker3D
## Stands in for V-Sekai's spawn point script, which the party's default map names by path on
## each of its spawn points (uro-shim/COMPATIBILITY.md, "The default map"). Only the path
## matters: without a script here, Godot still loads the map but logs "Failed loading resource".
