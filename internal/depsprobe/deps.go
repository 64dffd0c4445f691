package depsprobe

import (
	_ "github.com/google/go-tdx-guest/abi"
	_ "github.com/google/go-tdx-guest/client"
	_ "github.com/google/go-tdx-guest/pcs"
	_ "github.com/google/go-tdx-guest/validate"
	_ "github.com/google/go-tdx-guest/verify"
	_ "github.com/google/go-tpm-tools/client"
	_ "github.com/google/go-tpm-tools/simulator"
	_ "github.com/google/go-tpm/legacy/tpm2"
	_ "github.com/google/go-tpm/tpm2"
	_ "github.com/lestrrat-go/jwx/v3/jwk"
	_ "github.com/lestrrat-go/jwx/v3/jws"
	_ "github.com/lestrrat-go/jwx/v3/jwt"
)

import (
	_ "github.com/montanaflynn/stats"
	_ "github.com/parquet-go/parquet-go"
	_ "github.com/schollz/progressbar/v3"
	_ "gonum.org/v1/gonum/stat/distuv"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/plotter"
	_ "gonum.org/v1/plot/vg"
)
