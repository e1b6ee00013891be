extends Marker3D
## Stands in for V-Sekai's spawn point script (a Marker3D that joins the group "NetworkSpawnGroup"
## when it enters the tree). Only its path matters: the saved map refers to the script by path,
## and V-Sekai's client supplies its own script there.
