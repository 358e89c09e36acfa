Package: base-files
Version: 12.4+deb12u11
Architecture: amd64
Source: base-files (12.4+deb12u11)

Package: libc6
Version: 2.36-9+deb12u10
Source: glibc
Architecture: amd64
Description: GNU C Library
 continuation line
 .

Package: nover
Status: install ok installed
