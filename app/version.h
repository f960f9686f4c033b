/*
 * The version string `bulwark version` prints and the "listening" event
 * carries.  The build passes -DBULWARK_VERSION="..." from the lock/tag.
 */
#ifndef BULWARK_VERSION_H
#define BULWARK_VERSION_H

#ifndef BULWARK_VERSION
#define BULWARK_VERSION "0.1.0-dev"
#endif

#endif
