package org.rpctlsservd.frontend;

/** --require: the least a connection must reach before calls other than NULL are relayed (exports(5) -tls, -tlscert, -tlscertuser). */
public enum Require { NONE, TLS, CERT, CERTUSER }
