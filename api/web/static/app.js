// casebinder web app: the few behaviours htmx does not give. No inline handlers: the CSP forbids them.
"use strict";
