package esmtp

import "crypto/tls"

func tlsVersionName(v uint16) string { return tls.VersionName(v) }

func tlsCipherName(c uint16) string { return tls.CipherSuiteName(c) }
