// The invitation page: a copy button for the link.

import { setUpCopyButtons } from "./common.js";

setUpCopyButtons();
