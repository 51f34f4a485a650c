# Subprocess server used by kerrfield/julia_bridge.py (the "subprocess" path of the Julia backend).
#
# Started once per Python process as
#     julia --startup-file=no --project=<bundled julia/> -t <threads> <this file>
# it serves requests on stdin and answers on stdout until stdin closes or an "exit" request.
# Everything Julia itself would print goes to stderr (stdout is reserved for the protocol).
#
# Protocol (all text lines are ASCII and end in '\n'; all numbers are little-endian Float64):
#   request   "KFREQ <id> <command> <nparams> <narrays>"
#             then <nparams> lines "<name>=<value>"
#             then for each array: a line "<name> <ndims> <d1> ... <dk>" (numpy/C-order shape)
#             followed by prod(d)*8 bytes of C-order data, which Julia sees as the
#             column-major array of size (dk, ..., d1) (no copy, no permutation)
#   response  "KFOK <id> <nparams> <narrays>" + params + arrays, same layout, or
#             "KFERR <id> <nbytes>" followed by <nbytes> of UTF-8 error text (the worker stays up)
#   greeting  "KFREADY <protocol> <julia version> <threads>" once, before the first request.

module KerrFieldWorker

using KerrField

const PROTOCOL = 1
const IO_IN = stdin
const IO_OUT = stdout

struct Request
    id::String
    command::String
    params::Dict{String,String}
    arrays::Dict{String,Array{Float64}}
end

# Arrays travel as their raw memory: a C-order numpy array of shape (d1, ..., dk) is the
# column-major Julia array of size (dk, ..., d1), so neither side copies or permutes.
function read_array(io::IO)
    header = split(readline(io))
    length(header) >= 2 || error("malformed array header $(repr(join(header, ' ')))")
    name = String(header[1])
    nd = parse(Int, header[2])
    length(header) == 2 + nd || error("malformed array header for $name")
    shape = Tuple(parse(Int, h) for h in header[3:end])   # numpy (C-order) shape
    all(d -> d >= 0, shape) || error("negative dimension in array $name")
    data = Vector{Float64}(undef, prod(shape))
    read!(io, data)
    return name, nd == 1 ? data : reshape(data, reverse(shape))
end

function write_array(io::IO, name::AbstractString, a::AbstractArray{<:Real})
    shape = reverse(size(a))                                # numpy shape of the same memory
    header = string(name, ' ', length(shape), (string(' ', d) for d in shape)..., '\n')
    write(io, header)
    write(io, a isa Array{Float64} ? a : convert(Array{Float64}, a))
    return nothing
end

function read_request(io::IO)
    line = readline(io)
    isempty(line) && eof(io) && return nothing
    parts = split(line)
    (length(parts) == 5 && parts[1] == "KFREQ") || error("malformed request header $(repr(line))")
    id, command = String(parts[2]), String(parts[3])
    nparams, narrays = parse(Int, parts[4]), parse(Int, parts[5])
    params = Dict{String,String}()
    for _ in 1:nparams
        kv = readline(io)
        i = findfirst(isequal('='), kv)
        i === nothing && error("malformed parameter line $(repr(kv))")
        params[kv[1:prevind(kv, i)]] = kv[nextind(kv, i):end]
    end
    arrays = Dict{String,Array{Float64}}()
    for _ in 1:narrays
        name, a = read_array(io)
        arrays[name] = a
    end
    return Request(id, command, params, arrays)
end

function respond(io::IO, id, params::Dict{String,String}, arrays)
    buf = IOBuffer()      # assemble, then one write: no partial answers on the pipe
    write(buf, string("KFOK ", id, ' ', length(params), ' ', length(arrays), '\n'))
    for (k, v) in params
        write(buf, string(k, '=', v, '\n'))
    end
    for (k, v) in arrays
        write_array(buf, k, v)
    end
    write(io, take!(buf))
    flush(io)
end

function respond_error(io::IO, id, msg::AbstractString)
    bytes = Vector{UInt8}(codeunits(msg))
    println(io, "KFERR ", id, ' ', length(bytes))
    write(io, bytes)
    flush(io)
end

getparam(r::Request, k) = haskey(r.params, k) ? r.params[k] : throw(ArgumentError("missing parameter '$k'"))
getarray(r::Request, k) = haskey(r.arrays, k) ? r.arrays[k] : throw(ArgumentError("missing array '$k'"))
fparam(r::Request, k) = parse(Float64, getparam(r, k))

info_params() = Dict(
    "julia_version" => string(VERSION),
    "threads" => string(Threads.nthreads()),
    "project" => dirname(Base.active_project()),
    "kerrfield_version" => string(KerrField.VERSION_STRING),
    "protocol" => string(PROTOCOL),
)

# elementwise evaluation of the special functions (cross-checks against the torch backend)
function elliptic_command(r::Request)
    f = getparam(r, "function")
    args = [getarray(r, "a$i") for i in 1:parse(Int, getparam(r, "nargs"))]
    n = length(args[1])
    all(a -> length(a) == n, args) || throw(DimensionMismatch("arguments of unequal length"))
    fn = Dict(
        "elliprf" => carlson_rf, "elliprd" => carlson_rd, "elliprj" => carlson_rj,
        "elliprc" => carlson_rc, "ellipk" => ellipk, "ellipe" => ellipe, "ellippi" => ellippi,
        "ellipkinc" => ellipf, "ellipeinc" => ellipe, "ellippiinc" => ellippi,
        "sn" => jacobi_sn, "cn" => jacobi_cn, "dn" => jacobi_dn,
    )
    haskey(fn, f) || throw(ArgumentError("unknown elliptic function '$f'"))
    g = fn[f]
    out = [g((a[i] for a in args)...) for i in 1:n]
    return Dict{String,String}(), Dict("out" => out)
end

function handle(r::Request)
    c = r.command
    if c == "ping"
        return info_params(), Dict{String,Array{Float64}}()
    elseif c == "echo"          # transport test: returns the arrays unchanged
        return Dict{String,String}(), r.arrays
    elseif c == "sleep"         # hang test
        sleep(fparam(r, "seconds"))
        return Dict{String,String}(), Dict{String,Array{Float64}}()
    elseif c == "elliptic"
        return elliptic_command(r)
    elseif c == "trace"
        return trace_command(r)
    else
        throw(ArgumentError("unknown command '$c'"))
    end
end

function trace_command(r::Request)
    alpha = vec(getarray(r, "alpha"))
    beta = vec(getarray(r, "beta"))
    orders = Int[round(Int, o) for o in vec(getarray(r, "orders"))]
    velocity = Dict{String,String}(k[10:end] => v for (k, v) in r.params if startswith(k, "velocity."))
    out = KerrField.trace_rays_dict(
        fparam(r, "spin"), fparam(r, "inclination_deg"), alpha, beta, orders,
        fparam(r, "surface_theta_deg"), velocity,
    )
    return Dict{String,String}(), out
end

function serve(in_io::IO = IO_IN, out_io::IO = IO_OUT)
    println(out_io, "KFREADY ", PROTOCOL, ' ', VERSION, ' ', Threads.nthreads())
    flush(out_io)
    while true
        local req
        try
            req = read_request(in_io)
        catch err
            # a malformed request leaves the stream in an unknown state: report and stop
            msg = sprint(showerror, err)
            respond_error(out_io, "?", "protocol error: " * msg)
            return 1
        end
        req === nothing && return 0
        req.command == "exit" && (respond(out_io, req.id, Dict{String,String}(), Dict()); return 0)
        try
            params, arrays = handle(req)
            respond(out_io, req.id, params, arrays)
        catch err
            err isa InterruptException && rethrow()
            respond_error(out_io, req.id, sprint(showerror, err))
        end
    end
end

end # module KerrFieldWorker

if abspath(PROGRAM_FILE) == @__FILE__
    # keep stray prints (warnings, user code) off the protocol stream
    redirect_stdout(stderr)
    exit(KerrFieldWorker.serve(KerrFieldWorker.IO_IN, KerrFieldWorker.IO_OUT))
end
