// A loopback TCP port nothing listens on: bound by the kernel's choice, then closed. Free right
// after the call (another process could take it later): for a server to start on, or for a URL
// that must refuse connections.
#pragma once

namespace jobsd::test {

unsigned short unused_loopback_port();

}  // namespace jobsd::test
