//go:build !linux

package tlsprobe

import (
	"errors"
	"net"
)

func kernelRTT(net.Conn) (*KernelRTT, error) {
	return nil, errors.New("TCP_INFO is only read on Linux")
}
